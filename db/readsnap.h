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

enum readsnap_kind { READSNAP_CLOUDS, READSNAP_HOSTS, READSNAP_TENANTS, READSNAP__N };

struct readsnap_row {
    char *json;                 /* owned */
    size_t len;
    char *name;                 /* owned */
    long long revision;
    char id[37];
};

struct readsnap_rows {
    struct readsnap_row *rows;  /* owned, in list order (by name) */
    size_t n;
};

/* Fills out[READSNAP__N] (zeroed by the caller) and *snapshot (malloc'ed).
 * DB_QS_ONE, or an error (then nothing is owned by the caller). */
enum db_qs readsnap_load(struct db_conn *, char **snapshot,
                         struct readsnap_rows out[READSNAP__N]);
void readsnap_rows_uninit(struct readsnap_rows *);
/* DB_QS_ONE or an error. */
enum db_qs readsnap_listen(struct db_conn *);

#endif
