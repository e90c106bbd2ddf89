/* reconcile.h: skyvisord's reconciler, fed by PostgreSQL.
 *
 * Glues ctrl/reconciler.h to db/state.h and db/changelog.h: a dedicated
 * database connection (not one of the HTTP pool's) that LISTENs for
 * desired-state changes, reads the change log from its watermark, loads
 * the model or the changed VMs, and writes statuses back.  A notification
 * only wakes the reconciler: when the connection is lost the next read
 * reconnects and LISTENs again, and the log, read in commit order, still
 * holds what the lost notifications announced (a reader behind the log's
 * horizon reloads everything). */
#ifndef SKYVISOR_API_RECONCILE_H
#define SKYVISOR_API_RECONCILE_H

#include "ctrl/reconciler.h"

struct sky_reconcile;

/* Connects to 'conninfo' and starts the reconciler.  NULL on failure
 * (logged).  Caller owns the result (sky_reconcile_stop). */
struct sky_reconcile *sky_reconcile_start(const char *conninfo,
                                          const struct recon_options *);
void sky_reconcile_stop(struct sky_reconcile *);
/* The running reconciler (borrowed), for the topology endpoints. */
struct reconciler *sky_reconcile_get(struct sky_reconcile *);

#endif
