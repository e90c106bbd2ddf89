/* ctlset.h: the desired state of the tenant-controlled virtual switches
 * (ctrl/vswitch_agent.h) that the datapath carries: per controlled
 * switch, the port numbers its controller sees (migrations/009, vport)
 * and its controller's flows (vflow), as stored.
 *
 * A model (core/netmodel.h) holds one set, shared by reference with the
 * models derived from it (netmodel_apply_vms): a VM change does not change
 * the set, which names switches, VMs and links by id, never by a model's
 * indexes.  A change to the set itself (a flow-mod, a port numbered) is a
 * change of its switch in the change log (migrations/013), which reloads
 * the model.
 *
 * The flows stay in OpenFlow wire bytes (a whole ofp_match, the
 * instructions back to back): core/ does not speak OpenFlow;
 * ctrl/vtranslate.h decodes and translates them.
 *
 * Ownership: a set owns everything in it; ctlset_unref() frees it with
 * its last reference.  References are taken and dropped on one thread
 * (the reconciler's), which frees models. */
#ifndef SKYVISOR_CORE_CTLSET_H
#define SKYVISOR_CORE_CTLSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A port of a controlled switch: a VM on it, or its end of a link. */
struct ctl_port {
    char object_id[40];             /* the VM's or the link's id */
    uint32_t port_no;               /* 1 .. 65279 */
    bool link;
};

/* One of its controller's flows. */
struct ctl_flow {
    long long id;                   /* vflow.id */
    uint8_t table;                  /* the virtual table */
    uint16_t priority;
    uint8_t *match;                 /* owned: a whole ofp_match */
    size_t match_len;
    uint8_t *insts;                 /* owned: its instructions */
    size_t insts_len;
};

struct ctl_switch {
    char id[40];
    struct ctl_port *ports;         /* owned, sorted by object_id */
    size_t n_ports;
    struct ctl_flow *flows;         /* owned, by id */
    size_t n_flows;
};

struct ctlset {
    unsigned int refs;
    struct ctl_switch *sw;          /* owned, sorted by id */
    size_t n;
};

/* An empty set with one reference, NULL when memory runs out. */
struct ctlset *ctlset_create(void);
/* Takes a reference ('s' may be NULL); returns 's'. */
struct ctlset *ctlset_ref(struct ctlset *s);
/* Drops a reference ('s' may be NULL), freeing the set with the last. */
void ctlset_unref(struct ctlset *s);

/* The switch with this id, NULL if the set has none. */
const struct ctl_switch *ctlset_switch(const struct ctlset *, const char *id);
/* The number of the port of 'object_id' (a VM or a link) on 'sw', 0 if
 * none ('sw' may be NULL). */
uint32_t ctlset_port(const struct ctl_switch *sw, const char *object_id);

/* Sorts the switches by id and each switch's ports by object id (a loader
 * fills them in any order).  Returns false if two switches, or two ports
 * of one switch, share an id. */
bool ctlset_finish(struct ctlset *);

#endif
