/* recon_groups.h: the fast-failover groups on the bridges (reconciler-
 * internal; core/netmodel.h's netmodel_groups() says which, core/wanff.h
 * has mst+backup's detours, ctrl/recon_bfd.h the hold-down). */
#ifndef SKYVISOR_CTRL_RECON_GROUPS_H
#define SKYVISOR_CTRL_RECON_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/netmodel.h"

struct agent;
struct ofaction;
struct reconciler;

/* Adds to a->plan the GROUP_MODs host 'h''s bridge needs: every group,
 * written with ADD_OR_MOD among the meters' additions (before any flow,
 * recon_meters_apply), when they changed since the last plan or
 * 'readback' (the bridge's state is being read again); and a DELETE of
 * each group this instance wrote that is no longer wanted, among the
 * meters' deletions (once no flow names it).  Buckets of held tunnel ends
 * (recon_bfd_held()) are left out, unless that would leave none.  'ofport'
 * and 'aux' number the ports as the flows' compile did.  0 or ENOMEM (the
 * host's error). */
int recon_groups_plan(struct reconciler *, const struct netmodel *, int h,
                      struct agent *, bool readback, nm_ofport_fn *ofport, void *aux);

/* Forgets the groups written to the bridge (its session closed). */
void recon_groups_forget(struct agent *);

/* (recon_flows.c) Fills 'a' with Open vSwitch's resubmit to 'table', the
 * input port kept.  0 or ENOMEM. */
int recon_resubmit_action(struct ofaction *a, uint8_t table);

#endif
