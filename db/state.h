/* state.h: the reconciler's view of the database.
 *
 * state_load() reads the whole desired state, with each object's current
 * status, in one SERIALIZABLE READ ONLY transaction, so the reconciler
 * never sees half of an API request.  state_write_status() writes back the
 * statuses that changed, one statement per table (the rows travel as one
 * JSON array), in one transaction; it only touches state, detail and
 * observed_generation, so it never wakes the reconciler up (the NOTIFY
 * trigger ignores updates that keep the generation).
 *
 * state_listen() issues LISTEN skyvisor_desired on a dedicated connection
 * (db_conn_notifies() drains what arrives on it).
 * Ownership: the connection stays the caller's; the model is filled into
 * the caller's netmodel (netmodel_free). */
#ifndef SKYVISOR_DB_STATE_H
#define SKYVISOR_DB_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/netmodel.h"
#include "db/db.h"

/* Returns DB_QS_ONE on success (the model is complete), an error otherwise
 * (the model is left empty). */
enum db_qs state_load(struct db_conn *, struct netmodel *);

enum db_qs state_write_status(struct db_conn *, const struct nm_status *,
                              size_t n);

bool state_listen(struct db_conn *);

#endif
