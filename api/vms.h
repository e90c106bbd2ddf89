/* vms.h: the VM placement steps of api/vms.c that the lifecycle routes
 * (api/vm_lifecycle.c: start; api/vm_migrations.c: a migration's target)
 * share with VM create and PATCH, so a target is read and resolved by the
 * same rules everywhere. */
#ifndef SKYVISOR_API_VMS_H
#define SKYVISOR_API_VMS_H

#include <stdbool.h>

#include "api/crud.h"
#include "core/placement.h"

#define VMS_MAX_LIST 64

/* Reads placement object 'p' ({host}, {cloud} or constraints) into 'req'
 * (pointers into 'p', 'jur' and 'avoid', each of VMS_MAX_LIST entries).
 * 'prefix' is prepended to the member names in problems ("placement." for
 * a VM's placement, "" for a migration's flat target).  Writes the problem
 * and returns false when it is malformed. */
bool vms_parse_placement(struct crud_ctx *, const json_t *p, const char *prefix,
                         struct placement_req *req, const char **jur,
                         const char **avoid);
/* Resolves 'preq' to a host with a free slot (core/placement.c over
 * store_placement_candidates), run under the VM lock the caller holds
 * (store_lock(&store_vms)).  'exclude' (an id, may be NULL) is never
 * chosen: a target that names it or that only it satisfies is a 409
 * conflict.  Writes the host's id, or the problem and returns false.
 * With ctx->placing (a batch) and no 'exclude', the candidates are those
 * the batch loaded once, and the host chosen waits in it for
 * vms_placing_settle. */
bool vms_place(struct crud_ctx *, const struct placement_req *preq, const char *prefix,
               const char *exclude, char host_id[37]);
/* For the routes under .../vms/{vm}: sets ctx->res to the VM resource,
 * resolves {tenant} and {network} (ctx->scope is then the network's id)
 * and loads the VM named by the third path parameter into *vm.  DB_QS_ONE,
 * or DB_QS_NONE after writing the 404, or an error after writing its
 * problem. */
/* A batch's placement candidates (struct crud_ctx.placing): loaded by the
 * first placement of the transaction, under the VM lock that the batch
 * then holds to its end, so only the batch's own operations change the
 * slots used; each VM created adds its slot here (settle), and any other
 * change of a VM's host or power drops the rows to be read again (forget).
 * A batch of n VMs thus reads the candidates once, not n times (a read is
 * one row per host: the used slots are a counter, migrations/015).
 *   create:  an empty cache (NULL when memory runs out: no cache);
 *   settle:  after an operation: 'created' (the operation created a VM and
 *            stands) takes the slot of the host it chose, else the choice
 *            is dropped;
 *   forget:  after a VM update or delete that stands, or a rollback of the
 *            operations the cache counted;
 *   destroy: accepts NULL. */
struct vms_placing *vms_placing_create(void);
void vms_placing_settle(struct vms_placing *, bool created);
void vms_placing_forget(struct vms_placing *);
void vms_placing_destroy(struct vms_placing *);
enum db_qs vms_load(struct crud_ctx *, struct store_row *vm);

#endif
