/* apply.h: carrying out a plan against the API, then waiting for the
 * reconciler to realize what the file declares.
 *
 * The plan's actions run in its order; the first refusal stops the run
 * (the server's problem is the error).  Clouds, cloud links, hosts, tenants
 * and networks are one request each.  The switches, links and VMs of a
 * network go as one batch per network (POST .../networks/{n}/batch: one
 * transaction, all or nothing): those actions are held back, per network,
 * until the next action of another kind or the end of the plan, and then
 * sent network by network in the order each began.  Actions of different
 * networks never depend on each other, so only their relative order
 * changes; a refusal names each failing object with the server's field.  Because everything is
 * addressed by name and planned from what the server holds, running the
 * same (or a fixed) file again carries on from wherever a run stopped.
 *
 * Creates are POSTs with an Idempotency-Key derived from the file's id, the
 * URL and the body text (sorted keys), so a request retried after a lost
 * answer, or re-sent by a re-run after a crash, creates at most one object.
 * The server keeps keys forever, so the same key after a destroy would
 * replay the answer of an object that no longer exists: each create is
 * checked with a GET of the object it answered, and a dead answer moves on
 * to the next key of a fixed sequence (key-1, key-2, ...), which keeps the
 * keys deterministic.  A batch is keyed the same way (its body names
 * updated and deleted objects by id, so a batch aimed at objects made since
 * is a new request) and checked by its first created object.  Cloud links
 * are PUT (idempotent by nature). */
#ifndef SKYCTL_APPLY_H
#define SKYCTL_APPLY_H

#include <stdio.h>

#include "tools/skyctl/client.h"
#include "tools/skyctl/plan.h"
#include "tools/skyctl/spec.h"

/* Runs every action of 'plan', printing one line per action on 'out'.
 * Returns 0, or an error with its message in err. */
int apply_run(struct client *, const struct spec *, const struct plan *, FILE *out,
              char *err, size_t errlen);

/* What `plan` asks the server before it shows a plan as sound: each
 * network's batch as a dry run (validated in full, rolled back), so the
 * plan refuses what apply would refuse.  A network not yet on the server,
 * or replaced by the plan, cannot be checked; while the plan changes clouds
 * or hosts, a refusal made only of placement errors is not one (placement
 * depends on them).  A note on 'out' says what was not checked.  Returns
 * 0, or EPROTO with the refusals in err. */
int apply_check(struct client *, const struct spec *, const struct plan *,
                const struct model_set *server, FILE *out, char *err, size_t errlen);

/* Polls until every declared object with a status is realized at its
 * current generation, printing a progress line when it changes.  Fails on
 * objects in "error" at their current generation for APPLY_ERROR_GRACE_S
 * in a row, or after timeout_s, with the objects concerned and their status
 * detail in err.  (The reconciler reports some conditions that pass by
 * themselves as errors, such as a bridge whose OpenFlow connection is not
 * up yet; the grace keeps those from failing an apply.) */
#define APPLY_ERROR_GRACE_S 10.0
int apply_wait(struct client *, const struct spec *, double timeout_s, FILE *out,
               char *err, size_t errlen);

/* The Idempotency-Key of attempt 'attempt' (1, 2, ...) of POSTing 'body'
 * to 'path' for file 'file_id', into buf (exported for the tests). */
void apply_idem_key(const char *file_id, const char *path, const json_t *body,
                    unsigned int attempt, char *buf, size_t len);

#endif
