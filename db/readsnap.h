/* readsnap.h: what the API's read snapshot (api/readsnap.h) reads.
 *
 * readsnap_load reads, in one REPEATABLE READ, READ ONLY transaction, the
 * transaction's own snapshot (pg_current_snapshot(), the text
 * core/xidsnap.h parses) and every cloud, host and tenant through their
 * resources' list statements (db/store.h: the very text a list or a get
 * answers, with revision and id), in list order.  Every row is therefore
 * exactly what a read at that snapshot answers.
 *
 * readsnap_listen LISTENs to the two channels that announce a change of
 * those representations: 'skyvisor_desired' (migrations/001) and
 * 'skyvisor_status' (migrations/012). */
#ifndef SKYVISOR_DB_READSNAP_H
#define SKYVISOR_DB_READSNAP_H

#include <stddef.h>

#include "db/db.h"
#include "db/store.h"

enum readsnap_kind { READSNAP_CLOUDS, READSNAP_HOSTS, READSNAP_TENANTS, READSNAP__N };

/* Fills out[READSNAP__N] (zeroed by the caller; each kind's rows in list
 * order, keyed by name, with revision and id) and *snapshot (malloc'ed).
 * DB_QS_ONE, or an error (then nothing is owned by the caller). */
enum db_qs readsnap_load(struct db_conn *, char **snapshot,
                         struct store_items out[READSNAP__N]);
/* DB_QS_ONE or an error. */
enum db_qs readsnap_listen(struct db_conn *);

#endif
