/* recon_db.h: skyvisord's reconciler, fed by PostgreSQL: the database
 * side of ctrl/reconciler.h's struct recon_store.
 *
 * Glues ctrl/reconciler.h to db/state.h and db/changelog.h: a dedicated
 * database connection (not one of the HTTP pool's) that LISTENs for
 * desired-state changes, reads the change log from its watermark, loads
 * the model or the changed VMs, and writes statuses back.  A notification
 * only wakes the reconciler: when the connection is lost the next read
 * reconnects and LISTENs again, and the log, read in commit order, still
 * holds what the lost notifications announced (a reader behind the log's
 * horizon reloads everything). */
#ifndef SKYVISOR_DB_RECON_DB_H
#define SKYVISOR_DB_RECON_DB_H

#include "ctrl/reconciler.h"

struct recon_db;

/* Connects to 'conninfo' and starts the reconciler.  NULL on failure
 * (logged).  Caller owns the result (recon_db_stop). */
struct recon_db *recon_db_start(const char *conninfo, const struct recon_options *);
void recon_db_stop(struct recon_db *);
/* The running reconciler (borrowed), for the topology endpoints. */
struct reconciler *recon_db_reconciler(struct recon_db *);

#endif
