/* lifecycle_store.h: the reconciler's lifecycle store on PostgreSQL: the
 * database side of ctrl/recon_lifecycle.h's and ctrl/recon_migration.h's
 * stores (it serves no HTTP; the API's side of a VM's lifecycle is
 * api/vm_lifecycle.c).
 *
 * Glues ctrl/recon_lifecycle.h to db/snapshots.h and db/vm_stats.h, and
 * ctrl/recon_migration.h to db/vm_migrations.h, over a
 * database connection of its own (neither the HTTP pool's nor the one
 * that LISTENs for the reconciler), used on the reconciler thread only.
 * A lost connection is re-established by the next call; a snapshot or a
 * sample that could not be written is simply tried again by a later pass. */
#ifndef SKYVISOR_DB_LIFECYCLE_STORE_H
#define SKYVISOR_DB_LIFECYCLE_STORE_H

#include "ctrl/reconciler.h"

struct lifecycle_store;

/* Connects to 'conninfo' and attaches the store to 'r' (borrowed; it must
 * be destroyed before the store is stopped): snapshots and counters, and
 * live migrations (db/vm_migrations.h) with 'drain_ms' as their drain
 * wait.  NULL on failure (logged).  The caller owns the result. */
struct lifecycle_store *lifecycle_store_start(const char *conninfo,
                                              struct reconciler *r,
                                              unsigned int drain_ms);
/* Accepts NULL. */
void lifecycle_store_stop(struct lifecycle_store *);

#endif
