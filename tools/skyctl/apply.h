/* apply.h: carrying out a plan against the API, then waiting for the
 * reconciler to realize what the file declares.
 *
 * Each action is one request, in the plan's order; the first refusal stops
 * the run (the server's problem is the error).  Because everything is
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
 * keys deterministic.  Cloud links are PUT (idempotent by nature). */
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
