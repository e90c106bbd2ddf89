/* wanff.h: a gateway's fast-failover plan (mst+backup), from the overlay's
 * precomputed detours (core/detour.h) to what a flow compiler installs.
 *
 * Nodes are the clouds that have a gateway, in the order of their names
 * (as netmodel.tunnels names them); the tree tunnels are the cuts, in
 * netmodel.tunnels order.  For cut c and target side t (1: the side of the
 * cut's second end, b; 0: a's), the mark is 1 + 2c + t, carried in the
 * tunnel key (the tunnels' options:key=flow, set_field tun_id); 0 is an
 * unmarked packet.  At a gateway g:
 *
 *   groups   one OpenFlow 1.3 fast-failover group per tree tunnel of g,
 *            id WANFF_GROUP_BASE + mark: bucket 0 watches and outputs to
 *            the tree tunnel to 'peer'; bucket 1 watches the tunnel to
 *            'backup', the detour's first hop, sets the mark and sends the
 *            packet there.  backup_is_tree says that first hop is one of
 *            g's own tree tunnels: a packet that came in by it must leave by
 *            OFPP_IN_PORT (Open vSwitch never outputs to the input port
 *            otherwise), and a group cannot tell.  Bucket 1 can instead set
 *            the mark and resubmit to a divert table holding, per mark,
 *            "tun_id=mark: output to backup" and, below backup_is_tree,
 *            "in_port=backup, tun_id=mark: output IN_PORT" (Open vSwitch
 *            3.1 accepts a resubmit in a fast-failover bucket).  backup is
 *            -1 when the cut has no way around (fewer than three clouds).
 *   rules    one per mark, for a packet arriving marked on a tunnel:
 *            WANFF_TRANSIT on the source side: send it on, mark kept, to
 *            'next' (never to g's tree next hop, never delivered here);
 *            WANFF_ARRIVE on the target side: clear the mark and forward by
 *            the tree; 'end' is the cut's end on this side, toward which
 *            netmodel sends a marked broadcast on (see netmodel.h, "Fast
 *            failover").  fan[] lists g's tree neighbours on that side (the
 *            cut excepted): core/detour.h's flooding of marked broadcasts,
 *            which netmodel does not use.
 *
 * Pure: no I/O.  The plan owns its arrays (wanff_plan_free). */
#ifndef SKYVISOR_CORE_WANFF_H
#define SKYVISOR_CORE_WANFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/netmodel.h"

#define WANFF_GROUP_BASE 0x5f000000u

struct wanff_group {
    uint32_t id;                    /* WANFF_GROUP_BASE + mark */
    uint32_t mark;
    int peer;                       /* host at the tree tunnel's far end */
    int backup;                     /* host of the detour's first hop, -1 */
    bool backup_is_tree;
};

enum wanff_kind { WANFF_TRANSIT, WANFF_ARRIVE };

struct wanff_rule {
    uint32_t mark;
    enum wanff_kind kind;
    int next;                       /* TRANSIT: host to send it to, -1 none */
    int end;                        /* ARRIVE: the cut's end on this side */
    size_t fan_start, n_fan;        /* ARRIVE: hosts in plan.fan[] */
};

struct wanff_plan {
    struct wanff_group *groups;
    size_t n_groups;
    struct wanff_rule *rules;
    size_t n_rules;
    int *fan;
    size_t n_fan;
};

/* The plan of gateway host 'g' of finished model 'm' into *out: empty when
 * the layout is not mst+backup or g is not a cloud's gateway.  0, ENOMEM,
 * or EINVAL when the model's tree does not span its gateways. */
int wanff_plan(const struct netmodel *m, int g, struct wanff_plan *out);
void wanff_plan_free(struct wanff_plan *);

/* Every host's plan of a model at once (one detour table for all its
 * gateways), as netmodel keeps them (netmodel.ff): immutable once built,
 * shared by reference between the models that have the same overlay.
 * References are taken and dropped by the thread that owns the models.
 *   build: wanff_plan() of every host of finished model 'm' (every plan
 *          empty when the tree does not span); 0 or ENOMEM;
 *   get:   host g's plan, borrowed; an empty plan for a NULL set or a g
 *          out of range;
 *   unref: accepts NULL. */
struct wanff_plans;
int wanff_plans_build(const struct netmodel *m, struct wanff_plans **out);
struct wanff_plans *wanff_plans_ref(struct wanff_plans *);
void wanff_plans_unref(struct wanff_plans *);
const struct wanff_plan *wanff_plans_get(const struct wanff_plans *, int g);

#endif
