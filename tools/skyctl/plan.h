/* plan.h: the difference between a declaration file and the server, as an
 * ordered list of API calls.  Pure: no I/O, so tests/unit/test_skyctl_plan.c
 * checks it on sets built in memory.
 *
 * Ownership and the "managed" mark.  An object skyctl creates carries the
 * label skyctl.managed-by = <file id>.  A declared object that already
 * exists is updated in place whoever made it, but only its declared fields
 * (and labels) are compared and patched; the mark is added only by creation
 * and never stolen from another file.  Deletes touch only objects marked
 * with this file's id:
 *   - `apply --prune`: marked objects the file no longer declares;
 *   - `destroy`: marked objects the file declares;
 *   - a replacement (below): the object and its marked descendants.
 * A delete that would take an object someone else still uses (a network
 * holding another's VMs, a host with other VMs, a cloud with other hosts, a
 * switch with other VMs or links) is left out with a note instead.  Cloud
 * links carry no labels: one counts as marked when both its clouds are.
 *
 * Changes.  For each declared field the server's value is compared (MACs
 * case-insensitively, numbers as numbers, a link's switches as an unordered
 * pair).  A change is a PATCH (a PUT of the whole link for cloud links)
 * unless the API cannot make it in place: a host's cloud (immutable), and a
 * network's subnet or tagging while the network holds VMs (the API refuses,
 * 409).  Those are replacements (-/+): the object and, for a network, its
 * switches, links and VMs are deleted and created again; a replacement that
 * would delete objects not marked by this file is an error.  Tenants have
 * no PATCH: their labels are set at creation only and otherwise ignored.
 *
 * Order.  1. deletes of replacements, leaves first; 2. prune deletes of
 * leaves (VMs, links, cloud links), so their addresses and names are free;
 * 3. creates and updates in dependency order (clouds, cloud links, hosts,
 * tenants, networks, switches, links, VMs); 4. the remaining prune deletes,
 * dependents first (after the updates that move VMs and links away). */
#ifndef SKYCTL_PLAN_H
#define SKYCTL_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "tools/skyctl/model.h"
#include "tools/skyctl/spec.h"

enum plan_op { PLAN_CREATE, PLAN_UPDATE, PLAN_DELETE };

struct plan_action {
    enum plan_op op;
    const struct model_obj *want;   /* the declared object (create, update) */
    const struct model_obj *have;   /* the server's object (update, delete) */
    json_t *body;                   /* create: POST (PUT) body; update: PATCH
                                     * (PUT) body; owned */
    json_t *changes;                /* update, replacement: [{field, old, new}],
                                     * owned; NULL otherwise */
    bool replace;                   /* one half of a delete-then-create */
    const char *reason;             /* static text for a cascaded delete */
};

struct plan {
    struct plan_action *v;
    size_t n, cap;
    size_t n_create, n_update, n_delete;
    json_t *notes;                  /* array of strings: what was left alone */
};

/* The plan of `apply`: what makes the server match 'spec'.  'server' holds
 * every object of the kinds the file may touch (all clouds, cloud links and
 * hosts; the tenants, and everything under the tenants, the file declares
 * or this file marks).  The plan points into both sets: they must outlive
 * it.  Returns 0, or EINVAL with a message in err (the plan is then empty). */
int plan_build(const struct spec *spec, const struct model_set *server, bool prune,
               struct plan *out, char *err, size_t errlen);
/* The plan of `destroy`: delete what the file declares and marks. */
int plan_destroy(const struct spec *spec, const struct model_set *server,
                 struct plan *out, char *err, size_t errlen);
void plan_uninit(struct plan *);

/* Whether two values of field 'field' of a 'kind' object are the same
 * (exported for the tests). */
bool plan_same_value(enum model_kind kind, const char *field, const json_t *a,
                     const json_t *b);

#endif
