/* lifecycle.h: skyctl's imperative VM commands, beside the declarative
 * plan/apply: snapshot, stop, start and migrate one VM, named by its path
 * TENANT/NETWORK/VM.  Each sends one request (POST .../snapshots, .../stop,
 * .../start, .../migrations) and prints what the server accepted; migrate
 * then follows the migration, one line per phase it reaches, until a
 * terminal phase (unless 'no_wait').  Each returns 0, 1 on an error (its
 * message in 'err': the server's problem, a terminal phase other than
 * done, the timeout), or 64 for a malformed argument. */
#ifndef SKYCTL_LIFECYCLE_H
#define SKYCTL_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tools/skyctl/client.h"

int lifecycle_snapshot(struct client *, const char *path, FILE *out, char *err,
                       size_t errlen);
int lifecycle_stop(struct client *, const char *path, FILE *out, char *err,
                   size_t errlen);
/* 'from' (may be NULL: the VM's newest snapshot) names the snapshot. */
int lifecycle_start(struct client *, const char *path, const char *from, FILE *out,
                    char *err, size_t errlen);
/* 'to' is "host=NAME" or "cloud=NAME"; waits at most 'timeout' seconds. */
int lifecycle_migrate(struct client *, const char *path, const char *to, bool no_wait,
                      double timeout, FILE *out, char *err, size_t errlen);

#endif
