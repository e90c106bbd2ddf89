/* recon_groups.h: the fast-failover groups of mst+backup on the gateways
 * (reconciler-internal; core/wanff.h has the plan, core/netmodel.h the
 * flows that use the groups). */
#ifndef SKYVISOR_CTRL_RECON_GROUPS_H
#define SKYVISOR_CTRL_RECON_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/netmodel.h"

struct agent;
struct ofaction;
struct reconciler;

/* Adds to a->plan the GROUP_MODs host 'h''s bridge needs, sent with the
 * meters' additions, before any flow (recon_meters_apply): every group,
 * when they changed since the last plan or 'readback' (the bridge's state
 * is being read again).  Groups no longer wanted are left on the bridge,
 * unused, until it restarts.  0 or ENOMEM (the host's error). */
int recon_groups_plan(struct reconciler *, const struct netmodel *, int h,
                      struct agent *, bool readback);

/* (recon_flows.c) Fills 'a' with Open vSwitch's resubmit to 'table', the
 * input port kept.  0 or ENOMEM. */
int recon_resubmit_action(struct ofaction *a, uint8_t table);

#endif
