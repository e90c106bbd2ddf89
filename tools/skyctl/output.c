/* output.c: plans, tables and statuses (see output.h).
 *
 * A table is built in memory as rows of owned strings, its column widths
 * measured, then printed padded; the last column is never padded. */
#include "tools/skyctl/output.h"

#include <stdlib.h>
#include <string.h>

const char *
output_value(const json_t *v, char *buf, size_t len)
{
    if (!v || json_is_null(v)) {
        snprintf(buf, len, "-");
    } else if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        snprintf(buf, len, "%s", t ? t : "?");
        free(t);
    }
    return buf;
}

/* A value as the plan shows it: strings quoted, so "" and "-" read right. */
static const char *
plan_value(const json_t *v, char *buf, size_t len)
{
    if (!v || json_is_null(v)) {
        snprintf(buf, len, "null");
        return buf;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(buf, len, "%s", t ? t : "?");
    free(t);
    return buf;
}

static void
print_changes(FILE *f, const json_t *changes)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c) {
        char o[512], n[512];
        fprintf(f, "      %s: %s -> %s\n",
                json_string_value(json_object_get(c, "field")),
                plan_value(json_object_get(c, "old"), o, sizeof o),
                plan_value(json_object_get(c, "new"), n, sizeof n));
    }
}

void
output_plan(FILE *f, const struct plan *p, const char *file_id, bool destroy)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->v[i];
        const struct model_obj *o = a->want ? a->want : a->have;
        char path[400];
        model_path(o, path, sizeof path);
        const char *kind = model_kind_name(o->kind);
        switch (a->op) {
        case PLAN_CREATE:
            if (a->replace) {
                break;      /* shown with its delete, as -/+ */
            }
            fprintf(f, "  + %s %s\n", kind, path);
            const char *k;
            json_t *v;
            json_object_foreach(a->body, k, v) {
                char val[512];
                if (strcmp(k, "name")) {
                    fprintf(f, "      %s = %s\n", k, plan_value(v, val, sizeof val));
                }
            }
            break;
        case PLAN_UPDATE:
            fprintf(f, "  ~ %s %s\n", kind, path);
            print_changes(f, a->changes);
            break;
        case PLAN_DELETE:
            if (a->replace) {
                fprintf(f, "-/+ %s %s (%s)\n", kind, path,
                        a->reason ? a->reason : "forces replacement");
                print_changes(f, a->changes);
            } else if (a->reason) {
                fprintf(f, "  - %s %s (%s)\n", kind, path, a->reason);
            } else {
                fprintf(f, "  - %s %s\n", kind, path);
            }
            break;
        }
    }
    size_t i;
    json_t *n;
    json_array_foreach(p->notes, i, n) {
        fprintf(f, "note: %s\n", json_string_value(n));
    }
    if (destroy && !p->n_delete) {
        fprintf(f, "Nothing to delete: the server holds nothing %s made.\n", file_id);
    } else if (!p->n_create && !p->n_update && !p->n_delete) {
        fprintf(f, "No changes: %s matches the server.\n", file_id);
    } else if (destroy) {
        fprintf(f, "Plan: %zu to delete.\n", p->n_delete);
    } else {
        fprintf(f, "Plan: %zu to create, %zu to change, %zu to delete.\n", p->n_create,
                p->n_update, p->n_delete);
    }
}

/* --- tables --- */

struct table {
    size_t ncol, nrow, cap;
    char **cells;               /* nrow * ncol, owned */
};

static void
table_row(struct table *t, const char *const *vals)
{
    if (t->nrow == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char **c = realloc(t->cells, cap * t->ncol * sizeof *c);
        if (!c) {
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncol; i++) {
        char *c = strdup(vals[i] ? vals[i] : "");
        if (!c) {
            for (size_t j = 0; j < i; j++) {
                free(t->cells[t->nrow * t->ncol + j]);
            }
            return;
        }
        t->cells[t->nrow * t->ncol + i] = c;
    }
    t->nrow++;
}

static void
table_print(FILE *f, struct table *t)
{
    size_t w[16] = {0};
    for (size_t r = 0; r < t->nrow; r++) {
        for (size_t c = 0; c < t->ncol; c++) {
            size_t n = strlen(t->cells[r * t->ncol + c]);
            if (n > w[c]) {
                w[c] = n;
            }
        }
    }
    for (size_t r = 0; r < t->nrow; r++) {
        /* No padding after the last non-empty cell of a row. */
        size_t last = t->ncol;
        while (last > 1 && !*t->cells[r * t->ncol + last - 1]) {
            last--;
        }
        for (size_t c = 0; c < last; c++) {
            const char *s = t->cells[r * t->ncol + c];
            if (c + 1 < last) {
                fprintf(f, "%-*s  ", (int) w[c], s);
            } else {
                fprintf(f, "%s\n", s);
            }
        }
    }
    for (size_t i = 0; i < t->nrow * t->ncol; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
}

/* A column: header and where its value comes from: a field name, a
 * dotted path ("status.state", "gateway.name") or "@path" (the object's
 * path), "@managed" (its skyctl mark). */
struct col {
    const char *head, *from;
};

static const struct col cols_cloud[] = {
    {"NAME", "@path"}, {"PROVIDER", "provider"}, {"REGION", "region"},
    {"JURISDICTION", "jurisdiction"}, {"KIND", "kind"}, {"GATEWAY", "gateway.name"},
    {"STATE", "status.state"}, {"MANAGED-BY", "@managed"}, {NULL, NULL},
};
static const struct col cols_cloudlink[] = {
    {"CLOUDS", "@path"}, {"COST", "cost"}, {"RTT_MS", "rtt_ms"},
    {"BANDWIDTH_MBPS", "bandwidth_mbps"}, {NULL, NULL},
};
static const struct col cols_host[] = {
    {"NAME", "@path"}, {"CLOUD", "cloud"}, {"ROLE", "role"}, {"TUNNEL_IP", "tunnel_ip"},
    {"PUBLIC_IP", "public_ip"}, {"VMS", "vm_count"}, {"STATE", "status.state"},
    {"MANAGED-BY", "@managed"}, {NULL, NULL},
};
static const struct col cols_tenant[] = {
    {"NAME", "@path"}, {"TAG", "tag"}, {"STATE", "status.state"},
    {"MANAGED-BY", "@managed"}, {NULL, NULL},
};
static const struct col cols_network[] = {
    {"NAME", "@path"}, {"SUBNET", "subnet"}, {"TAGGING", "tagging"},
    {"STATE", "status.state"}, {"MANAGED-BY", "@managed"}, {NULL, NULL},
};
static const struct col cols_switch[] = {
    {"NAME", "@path"}, {"STATE", "status.state"}, {"MANAGED-BY", "@managed"},
    {NULL, NULL},
};
static const struct col cols_link[] = {
    {"NAME", "@path"}, {"A", "a"}, {"B", "b"}, {"BANDWIDTH_MBPS", "bandwidth_mbps"},
    {"STATE", "status.state"}, {"MANAGED-BY", "@managed"}, {NULL, NULL},
};
static const struct col cols_vm[] = {
    {"NAME", "@path"}, {"SWITCH", "switch"}, {"MAC", "mac"}, {"IP", "ip"},
    {"HOST", "host"}, {"IFACE", "iface"}, {"STATE", "status.state"},
    {"MANAGED-BY", "@managed"}, {NULL, NULL},
};
static const struct col *const cols_of[MK__N] = {
    [MK_CLOUD] = cols_cloud, [MK_CLOUDLINK] = cols_cloudlink, [MK_HOST] = cols_host,
    [MK_TENANT] = cols_tenant, [MK_NETWORK] = cols_network, [MK_SWITCH] = cols_switch,
    [MK_LINK] = cols_link, [MK_VM] = cols_vm,
};

static const json_t *
dig(const json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t) (dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int) n, path);
        o = json_object_get(o, key);
        path += n + (dot ? 1 : 0);
    }
    return o;
}

static bool
matches(const struct model_obj *o, const char *name)
{
    char path[400];
    return !name || !strcmp(o->name, name) || !strcmp(model_path(o, path, sizeof path), name);
}

size_t
output_table(FILE *f, const struct model_set *s, enum model_kind kind, const char *name)
{
    const struct col *cols = cols_of[kind];
    struct table t = {0};
    const char *vals[16];
    while (cols[t.ncol].head) {
        vals[t.ncol] = cols[t.ncol].head;
        t.ncol++;
    }
    table_row(&t, vals);
    size_t rows = 0;
    char buf[16][256];
    for (size_t i = 0; i < s->n; i++) {
        const struct model_obj *o = &s->v[i];
        if (o->kind != kind || !matches(o, name)) {
            continue;
        }
        for (size_t c = 0; c < t.ncol; c++) {
            if (!strcmp(cols[c].from, "@path")) {
                model_path(o, buf[c], sizeof buf[c]);
            } else if (!strcmp(cols[c].from, "@managed")) {
                const char *m = model_managed_by(o);
                snprintf(buf[c], sizeof buf[c], "%s", m ? m : "-");
            } else {
                output_value(dig(o->body, cols[c].from), buf[c], sizeof buf[c]);
            }
            vals[c] = buf[c];
        }
        table_row(&t, vals);
        rows++;
    }
    if (rows) {
        table_print(f, &t);
    } else {
        for (size_t i = 0; i < t.nrow * t.ncol; i++) {
            free(t.cells[i]);
        }
        free(t.cells);
    }
    return rows;
}

size_t
output_json(FILE *f, const struct model_set *s, enum model_kind kind, const char *name)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].kind == kind && matches(&s->v[i], name)) {
            json_array_append(a, s->v[i].body);
        }
    }
    size_t n = json_array_size(a);
    json_dumpf(a, f, JSON_INDENT(2));
    fputc('\n', f);
    json_decref(a);
    return n;
}

size_t
output_status(FILE *f, const struct model_set *s, bool json)
{
    struct table t = {.ncol = 5};
    const char *head[] = {"KIND", "NAME", "STATE", "GENERATION", "DETAIL"};
    table_row(&t, head);
    json_t *arr = json_array();
    size_t not_realized = 0, counts[3] = {0};
    for (int kind = 0; kind < MK__N; kind++) {
        for (size_t i = 0; i < s->n; i++) {
            const struct model_obj *o = &s->v[i];
            if ((int) o->kind != kind || !model_kind_has_status(o->kind)) {
                continue;
            }
            const json_t *st = json_object_get(o->body, "status");
            const char *state = json_string_value(json_object_get(st, "state"));
            const char *detail = json_string_value(json_object_get(st, "detail"));
            json_int_t gen = json_integer_value(json_object_get(st, "generation"));
            json_int_t og = json_integer_value(json_object_get(st, "observed_generation"));
            bool done = state && !strcmp(state, "realized") && og == gen;
            not_realized += !done;
            counts[state && !strcmp(state, "realized") ? 0
                   : state && !strcmp(state, "error") ? 2 : 1]++;
            char path[400], g[64];
            model_path(o, path, sizeof path);
            snprintf(g, sizeof g, "%lld/%lld", (long long) og, (long long) gen);
            const char *row[] = {model_kind_name(o->kind), path, state ? state : "?", g,
                                 done ? "" : (detail ? detail : "")};
            table_row(&t, row);
            json_array_append_new(arr, json_pack("{sssssO}", "kind", model_kind_name(o->kind),
                                                 "name", path, "status", (json_t *) st));
        }
    }
    if (json) {
        json_dumpf(arr, f, JSON_INDENT(2));
        fputc('\n', f);
        for (size_t i = 0; i < t.nrow * t.ncol; i++) {
            free(t.cells[i]);
        }
        free(t.cells);
    } else {
        table_print(f, &t);
        fprintf(f, "%zu objects: %zu realized, %zu pending, %zu error\n",
                counts[0] + counts[1] + counts[2], counts[0], counts[1], counts[2]);
    }
    json_decref(arr);
    return not_realized;
}
