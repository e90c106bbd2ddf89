/* output.h: what skyctl prints: plans, tables of objects, statuses.
 *
 * Tables are aligned columns, one object per row, in the order of the set
 * (the API's name order per collection); `-o json` prints the API's own
 * representations instead.  Nothing here talks to the server. */
#ifndef SKYCTL_OUTPUT_H
#define SKYCTL_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/skyctl/model.h"
#include "tools/skyctl/plan.h"

/* Terraform-style: "+ kind path" with its fields, "~" with "field: old ->
 * new", "-/+" for replacements, "-", then the notes and a summary line. */
void output_plan(FILE *, const struct plan *, const char *file_id, bool destroy);

/* A table of the objects of 'kind' in 'set'; 'name' (NULL for all) keeps
 * only the one whose path (e.g. red/prod/web) or name matches.  Returns the
 * number of rows printed. */
size_t output_table(FILE *, const struct model_set *, enum model_kind, const char *name);
/* The same objects as a JSON array. */
size_t output_json(FILE *, const struct model_set *, enum model_kind, const char *name);

/* Every object with a status: kind, path, state, generations, detail.
 * Returns the number of objects not realized. */
size_t output_status(FILE *, const struct model_set *, bool json);

/* A JSON value for a person: strings bare, null as "-", others compact
 * JSON.  Writes into buf; returns buf. */
const char *output_value(const json_t *, char *buf, size_t len);

#endif
