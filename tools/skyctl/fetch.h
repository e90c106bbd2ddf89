/* fetch.h: the server's objects, read through the API into a model_set.
 *
 * All clouds, cloud links and hosts are read; of the tenants, either all
 * (status, get) or those a file needs (plan, apply, destroy): the tenants it
 * declares and the tenants marked with its id, with their networks and
 * every switch, link and VM in them. */
#ifndef SKYCTL_FETCH_H
#define SKYCTL_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "tools/skyctl/client.h"
#include "tools/skyctl/model.h"
#include "tools/skyctl/spec.h"

/* Fills 'out' (empty on entry; the caller uninits it, also on failure).
 * 'spec' NULL reads every tenant; 'deep' false stops at the tenants (no
 * networks and what is in them).  Returns 0 or an error with its message. */
int fetch_state(struct client *, const struct spec *spec, bool deep,
                struct model_set *out, char *err, size_t errlen);

#endif
