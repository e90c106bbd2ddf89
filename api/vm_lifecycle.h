/* vm_lifecycle.h: the shape every lifecycle POST under .../vms/{vm} shares
 * (snapshot, stop, start, migrate, activate): an optional JSON body checked
 * against the route's fields, then one write transaction through
 * crud_write (so no 2xx describes a change that did not commit) that
 * claims the Idempotency-Key, runs the route's step and answers 202
 * Accepted with the object the step returns: the change is desired state,
 * which the reconciler realizes afterwards. */
#ifndef SKYVISOR_API_VM_LIFECYCLE_H
#define SKYVISOR_API_VM_LIFECYCLE_H

#include "api/crud.h"

/* A route's step, run inside the write transaction (re-run from the start
 * on a retry).  Returns DB_QS_ONE with *out set (and *location, malloc'ed,
 * or NULL for none), DB_QS_NONE after writing a problem, or an error
 * (DB_QS_SOFT: retry the transaction). */
typedef enum db_qs lifecycle_step_fn(struct crud_ctx *, struct store_row *out,
                                     char **location);

/* Runs the route: body (may be empty: {}) checked against 'fields',
 * available to the step as ctx->body. */
void lifecycle_post(struct api_req *, struct api_resp *, const struct crud_field *fields,
                    lifecycle_step_fn *step, const char *kind);

/* The request path with its last 'drop' segments replaced by 'tail' (which
 * starts with '/'): a Location next to the route's.  Malloc'ed, or NULL. */
char *lifecycle_location(const char *url, unsigned int drop, const char *tail);

#endif
