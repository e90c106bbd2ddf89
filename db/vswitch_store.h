/* vswitch_store.h: the tenant-controller agent (ctrl/vswitch_agent.h) on
 * PostgreSQL: the database side of its struct vswitch_agent_store.
 *
 * Glues the agent's store to db/tenant_ctl.h over a database connection
 * of its own, used on the agent's thread only (libpq re-establishes a
 * lost connection on the next call; the agent tries a failed call again
 * later), and starts and stops the agent with it. */
#ifndef SKYVISOR_DB_VSWITCH_STORE_H
#define SKYVISOR_DB_VSWITCH_STORE_H

#include "ctrl/vswitch_agent.h"

struct reconciler;

struct vswitch_store;

/* Connects to 'conninfo', starts the agent and attaches it to 'recon'
 * (borrowed; it outlives the store) for its VMs' frames
 * (ctrl/recon_tenant_ctl.h).  NULL on failure (logged).  The caller owns
 * the result. */
struct lease_keeper;
/* 'keeper' (borrowed, may be NULL) decides which switches this instance
 * serves when there are several (vswitch_agent.h). */
struct vswitch_store *vswitch_store_start(const char *conninfo, struct reconciler *recon,
                                          struct lease_keeper *keeper);
/* Detaches from the reconciler, stops the agent, then closes the
 * connection.  Accepts NULL. */
void vswitch_store_stop(struct vswitch_store *);
/* The running agent, for its counters (NULL with a NULL store). */
const struct vswitch_agent *vswitch_store_agent(const struct vswitch_store *);

#endif
