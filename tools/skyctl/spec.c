/* spec.c: the declaration file, parsed and checked (schema in spec.h).
 *
 * Two steps.  First the text becomes one JSON value: jansson parses JSON
 * (duplicate keys rejected); for YAML, libyaml's document loader builds a
 * node graph that is converted node by node (mappings to objects with
 * duplicate keys rejected, sequences to arrays, plain scalars typed as YAML
 * 1.2's core schema does: null, true/false, integers, floats, else strings;
 * quoted scalars are always strings; nesting is capped so aliases cannot
 * loop).  Then that value is walked against a table of fields per object
 * kind, and each declared object is added to the spec's set with a body
 * holding exactly the fields the file states. */
#include "tools/skyctl/spec.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

/* --- YAML to JSON --- */

static json_t *
yaml_scalar(const yaml_node_t *n)
{
    const char *s = (const char *) n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return json_stringn(s, len);
    }
    if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null")
        || !strcmp(s, "NULL")) {
        return json_null();
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        return json_true();
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        return json_false();
    }
    if (strlen(s) == len) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*end && !errno && (s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9'))) {
            return json_integer(v);
        }
        /* Decimal floats only: no hex, inf or nan (they stay strings). */
        bool digit = false, decimal = true;
        for (const char *c = s; *c; c++) {
            digit |= *c >= '0' && *c <= '9';
            decimal &= !!strchr("0123456789+-.eE", *c);
        }
        errno = 0;
        double d = strtod(s, &end);
        if (!*end && !errno && digit && decimal) {
            return json_real(d);
        }
    }
    return json_stringn(s, len);
}

static json_t *
yaml_node_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *err, size_t errlen)
{
    if (!n) {
        return json_null();
    }
    if (depth > MAX_DEPTH) {
        snprintf(err, errlen, "line %zu: nesting deeper than %d levels",
                 n->start_mark.line + 1, MAX_DEPTH);
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return yaml_scalar(n);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++) {
            json_t *v = yaml_node_json(doc, yaml_document_get_node(doc, *it), depth + 1,
                                       err, errlen);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             o && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                snprintf(err, errlen, "line %zu: mapping keys must be scalars",
                         (k ? k->start_mark.line : n->start_mark.line) + 1);
                json_decref(o);
                return NULL;
            }
            const char *key = (const char *) k->data.scalar.value;
            if (strlen(key) != k->data.scalar.length) {
                snprintf(err, errlen, "line %zu: a key contains a NUL byte",
                         k->start_mark.line + 1);
                json_decref(o);
                return NULL;
            }
            if (json_object_get(o, key)) {
                snprintf(err, errlen, "line %zu: duplicate key '%s'",
                         k->start_mark.line + 1, key);
                json_decref(o);
                return NULL;
            }
            json_t *v = yaml_node_json(doc, yaml_document_get_node(doc, p->value),
                                       depth + 1, err, errlen);
            if (!v || json_object_set_new(o, key, v)) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        return json_null();
    }
}

static json_t *
parse_yaml(const char *buf, size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    json_t *out = NULL;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "line %zu column %zu: %s%s%s",
                 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "YAML syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, errlen, "the file is empty");
    } else {
        out = yaml_node_json(&doc, root, 0, err, errlen);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return out;
}

/* --- the schema --- */

enum ftype {
    FT_STR,         /* string (a number is taken as its text) */
    FT_NUM,         /* number */
    FT_INT,         /* integer */
    FT_OBJ,         /* object, passed through */
    FT_LABELS,      /* object of strings */
    FT_STRS,        /* sequence of strings */
};

struct fdef {
    const char *name;
    enum ftype type;
    bool required, nullable;
};

static const struct fdef cloud_fields[] = {
    {"name", FT_STR, true, false}, {"provider", FT_STR, true, false},
    {"region", FT_STR, true, false}, {"jurisdiction", FT_STR, true, false},
    {"kind", FT_STR, true, false}, {"cost_per_hour", FT_STR, false, false},
    {"labels", FT_LABELS, false, false}, {NULL, 0, false, false},
};
static const struct fdef cloudlink_fields[] = {
    {"a", FT_STR, true, false}, {"b", FT_STR, true, false},
    {"cost", FT_NUM, true, false}, {"rtt_ms", FT_NUM, false, true},
    {"bandwidth_mbps", FT_INT, false, true}, {NULL, 0, false, false},
};
static const struct fdef host_fields[] = {
    {"name", FT_STR, true, false}, {"cloud", FT_STR, true, false},
    {"role", FT_STR, false, false}, {"tunnel_ip", FT_STR, true, false},
    {"public_ip", FT_STR, false, true}, {"capacity", FT_INT, false, false},
    {"ovsdb", FT_STR, true, false}, {"bridge", FT_STR, false, false},
    {"datapath", FT_STR, false, false}, {"openflow", FT_STR, false, true},
    {"controller", FT_STR, false, true}, {"labels", FT_LABELS, false, false},
    {NULL, 0, false, false},
};
static const struct fdef tenant_fields[] = {
    {"name", FT_STR, true, false}, {"labels", FT_LABELS, false, false},
    {"wan_limit_mbps", FT_INT, false, true},
    {"controller_allow", FT_STRS, false, false}, {NULL, 0, false, false},
};
static const struct fdef network_fields[] = {
    {"name", FT_STR, true, false}, {"subnet", FT_STR, true, false},
    {"tagging", FT_STR, false, false}, {"labels", FT_LABELS, false, false},
    {NULL, 0, false, false},
};
static const struct fdef switch_fields[] = {
    {"name", FT_STR, true, false}, {"labels", FT_LABELS, false, false},
    {"controller", FT_STR, false, true}, {"fail_mode", FT_STR, false, true},
    {NULL, 0, false, false},
};
static const struct fdef link_fields[] = {
    {"name", FT_STR, false, false}, {"a", FT_STR, true, false},
    {"b", FT_STR, true, false}, {"bandwidth_mbps", FT_INT, false, true},
    {"labels", FT_LABELS, false, false}, {NULL, 0, false, false},
};
static const struct fdef vm_fields[] = {
    {"name", FT_STR, true, false}, {"switch", FT_STR, true, false},
    {"mac", FT_STR, true, false}, {"ip", FT_STR, true, false},
    {"iface", FT_STR, false, true}, {"placement", FT_OBJ, true, false},
    {"rate_mbps", FT_INT, false, true}, {"burst_kb", FT_INT, false, true},
    {"labels", FT_LABELS, false, false}, {NULL, 0, false, false},
};

struct loader {
    struct spec *spec;
    char *err;
    size_t errlen;
};

static int fail(struct loader *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static int
fail(struct loader *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, l->errlen, fmt, ap);
    va_end(ap);
    return EINVAL;
}

/* snprintf into a path buffer; a path that does not fit is cut (it only
 * names a place in error messages). */
static void pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* A number as the text a person would have written. */
static json_t *
number_text(const json_t *v)
{
    char buf[64];
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long) json_integer_value(v));
    } else {
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
    }
    return json_string(buf);
}

/* Checks one value against its field definition; returns a new reference to
 * the value to keep (possibly converted) or NULL after fail(). */
static json_t *
check_value(struct loader *l, const char *where, const struct fdef *f, json_t *v)
{
    if (json_is_null(v)) {
        if (!f->nullable) {
            fail(l, "%s.%s: may not be null", where, f->name);
            return NULL;
        }
        return json_null();
    }
    switch (f->type) {
    case FT_STR:
        if (json_is_string(v)) {
            return json_incref(v);
        }
        if (json_is_number(v)) {
            return number_text(v);
        }
        fail(l, "%s.%s: must be a string", where, f->name);
        return NULL;
    case FT_NUM:
        if (json_is_number(v)) {
            return json_incref(v);
        }
        fail(l, "%s.%s: must be a number", where, f->name);
        return NULL;
    case FT_INT:
        if (json_is_integer(v)) {
            return json_incref(v);
        }
        fail(l, "%s.%s: must be an integer", where, f->name);
        return NULL;
    case FT_OBJ:
        if (json_is_object(v)) {
            return json_incref(v);
        }
        fail(l, "%s.%s: must be a mapping", where, f->name);
        return NULL;
    case FT_STRS: {
        size_t i;
        json_t *e;
        if (!json_is_array(v)) {
            fail(l, "%s.%s: must be a sequence of strings", where, f->name);
            return NULL;
        }
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) {
                fail(l, "%s.%s[%zu]: must be a string", where, f->name, i);
                return NULL;
            }
        }
        return json_incref(v);
    }
    case FT_LABELS: {
        if (!json_is_object(v)) {
            fail(l, "%s.labels: must be a mapping of strings", where);
            return NULL;
        }
        json_t *out = json_object();
        const char *k;
        json_t *lv;
        json_object_foreach(v, k, lv) {
            if (!strcmp(k, MODEL_LABEL)) {
                json_decref(out);
                fail(l, "%s.labels.%s: reserved for skyctl", where, k);
                return NULL;
            }
            json_t *s = json_is_string(lv) ? json_incref(lv)
                        : json_is_number(lv) ? number_text(lv) : NULL;
            if (!s) {
                json_decref(out);
                fail(l, "%s.labels.%s: must be a string", where, k);
                return NULL;
            }
            json_object_set_new(out, k, s);
        }
        return out;
    }
    }
    return NULL;
}

/* Builds the body of one declared object from mapping 'in' (checked against
 * 'fields').  Returns a new object or NULL after fail(). */
static json_t *
check_object(struct loader *l, const char *where, const struct fdef *fields,
             json_t *in, const char *const *children)
{
    if (!json_is_object(in)) {
        fail(l, "%s: must be a mapping", where);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) {
        bool known = false;
        for (const struct fdef *f = fields; f->name && !known; f++) {
            known = !strcmp(f->name, k);
        }
        for (size_t i = 0; children && children[i] && !known; i++) {
            known = !strcmp(children[i], k);
        }
        if (!known) {
            fail(l, "%s: unknown key '%s'", where, k);
            return NULL;
        }
    }
    json_t *body = json_object();
    for (const struct fdef *f = fields; f->name; f++) {
        json_t *fv = json_object_get(in, f->name);
        if (!fv) {
            if (f->required) {
                json_decref(body);
                fail(l, "%s: missing required key '%s'", where, f->name);
                return NULL;
            }
            continue;
        }
        json_t *kept = check_value(l, where, f, fv);
        if (!kept) {
            json_decref(body);
            return NULL;
        }
        json_object_set_new(body, f->name, kept);
    }
    return body;
}

static const char *
str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Names become URL path segments: keep them to characters that need no
 * escaping (the server checks its stricter rules itself). */
static bool
url_safe(const char *s)
{
    for (; *s; s++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *s)) {
            return false;
        }
    }
    return true;
}

static int
add(struct loader *l, const char *where, enum model_kind kind, const char *tenant,
    const char *network, const char *name, json_t *body)
{
    if (!name || !*name) {
        json_decref(body);
        return fail(l, "%s: empty name", where);
    }
    if (!url_safe(name) || strlen(name) > 255) {
        json_decref(body);
        return fail(l, "%s: name '%s' may hold only letters, digits, '.', '_' and '-'",
                    where, name);
    }
    if (model_set_find(&l->spec->objs, kind, tenant, network, name)) {
        json_decref(body);
        return fail(l, "%s: %s '%s' is declared twice", where, model_kind_name(kind), name);
    }
    if (!model_set_add(&l->spec->objs, kind, tenant, network, name, body)) {
        return fail(l, "out of memory");
    }
    return 0;
}

/* Iterates the array under 'key' of 'parent' (absent is empty). */
static int
list_of(struct loader *l, const char *where, json_t *parent, const char *key, json_t **arr)
{
    *arr = json_object_get(parent, key);
    if (*arr && !json_is_array(*arr) && !json_is_null(*arr)) {
        return fail(l, "%s%s%s: must be a list", where, *where ? "." : "", key);
    }
    return 0;
}

/* Sorted "x--y" of two names. */
static void
pair_name(char *buf, size_t len, const char *a, const char *b)
{
    if (strcmp(a, b) <= 0) {
        snprintf(buf, len, "%s--%s", a, b);
    } else {
        snprintf(buf, len, "%s--%s", b, a);
    }
}

static int
load_network(struct loader *l, const char *where, const char *tenant, json_t *in)
{
    static const char *const children[] = {"switches", "links", "vms", NULL};
    json_t *body = check_object(l, where, network_fields, in, children);
    if (!body) {
        return EINVAL;
    }
    char net[128];
    snprintf(net, sizeof net, "%s", str(body, "name"));
    int rc = add(l, where, MK_NETWORK, tenant, NULL, net, body);
    json_t *arr, *v;
    size_t i;
    char w[512];

    if (rc || (rc = list_of(l, where, in, "switches", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        pathf(w, sizeof w, "%s.switches[%zu]", where, i);
        json_t *sb;
        if (json_is_string(v)) {
            sb = json_pack("{sO}", "name", v);
        } else if (!(sb = check_object(l, w, switch_fields, v, NULL))) {
            return EINVAL;
        }
        if ((rc = add(l, w, MK_SWITCH, tenant, net, str(sb, "name"), sb))) {
            return rc;
        }
    }

    if ((rc = list_of(l, where, in, "links", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        pathf(w, sizeof w, "%s.links[%zu]", where, i);
        json_t *lb;
        if (json_is_string(v)) {
            char a[128], b[128];
            if (!model_cloudlink_split(json_string_value(v), a, b, sizeof a)) {
                return fail(l, "%s: a link is \"A--B\" or a mapping with a and b", w);
            }
            lb = json_pack("{ssss}", "a", a, "b", b);
        } else if (!(lb = check_object(l, w, link_fields, v, NULL))) {
            return EINVAL;
        }
        char name[300];
        if (str(lb, "name")) {
            snprintf(name, sizeof name, "%s", str(lb, "name"));
        } else {
            pair_name(name, sizeof name, str(lb, "a"), str(lb, "b"));
        }
        if ((rc = add(l, w, MK_LINK, tenant, net, name, lb))) {
            return rc;
        }
    }

    if ((rc = list_of(l, where, in, "vms", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        pathf(w, sizeof w, "%s.vms[%zu]", where, i);
        json_t *vb = check_object(l, w, vm_fields, v, NULL);
        if (!vb) {
            return EINVAL;
        }
        if ((rc = add(l, w, MK_VM, tenant, net, str(vb, "name"), vb))) {
            return rc;
        }
    }
    return 0;
}

static int
load_root(struct loader *l, json_t *root, const char *default_id)
{
    if (!json_is_object(root)) {
        return fail(l, "the file must be a mapping with clouds, cloud_links, hosts "
                    "and tenants");
    }
    static const char *const top[] = {"name", "clouds", "cloud_links", "hosts",
                                      "tenants", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        size_t i = 0;
        while (top[i] && strcmp(top[i], k)) {
            i++;
        }
        if (!top[i]) {
            return fail(l, "unknown top-level key '%s' (expected name, clouds, "
                        "cloud_links, hosts, tenants)", k);
        }
    }
    json_t *name = json_object_get(root, "name");
    if (name && !json_is_string(name)) {
        return fail(l, "name: must be a string");
    }
    const char *id = name ? json_string_value(name) : default_id;
    size_t idlen = id ? strlen(id) : 0;
    if (!idlen || idlen > 200) {
        return fail(l, "name: the file's id must be 1 to 200 characters");
    }
    for (size_t i = 0; i < idlen; i++) {
        if (id[i] < 0x21 || id[i] > 0x7e) {
            return fail(l, "name: the file's id must be printable ASCII without "
                        "spaces");
        }
    }
    if (!(l->spec->id = strdup(id))) {
        return fail(l, "out of memory");
    }

    json_t *arr;
    size_t i;
    char w[512];
    int rc;

    if ((rc = list_of(l, "", root, "clouds", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        snprintf(w, sizeof w, "clouds[%zu]", i);
        json_t *b = check_object(l, w, cloud_fields, v, NULL);
        if (!b || (rc = add(l, w, MK_CLOUD, NULL, NULL, str(b, "name"), b))) {
            return b ? rc : EINVAL;
        }
    }
    if ((rc = list_of(l, "", root, "cloud_links", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        snprintf(w, sizeof w, "cloud_links[%zu]", i);
        json_t *b = check_object(l, w, cloudlink_fields, v, NULL);
        if (!b) {
            return EINVAL;
        }
        if (!strcmp(str(b, "a"), str(b, "b"))) {
            json_decref(b);
            return fail(l, "%s: a cloud link joins two different clouds", w);
        }
        char pair[300];
        pair_name(pair, sizeof pair, str(b, "a"), str(b, "b"));
        if ((rc = add(l, w, MK_CLOUDLINK, NULL, NULL, pair, b))) {
            return rc;
        }
    }
    if ((rc = list_of(l, "", root, "hosts", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        snprintf(w, sizeof w, "hosts[%zu]", i);
        json_t *b = check_object(l, w, host_fields, v, NULL);
        if (!b || (rc = add(l, w, MK_HOST, NULL, NULL, str(b, "name"), b))) {
            return b ? rc : EINVAL;
        }
    }
    if ((rc = list_of(l, "", root, "tenants", &arr))) {
        return rc;
    }
    json_array_foreach(arr, i, v) {
        static const char *const children[] = {"networks", NULL};
        snprintf(w, sizeof w, "tenants[%zu]", i);
        json_t *b = check_object(l, w, tenant_fields, v, children);
        if (!b) {
            return EINVAL;
        }
        char tenant[128];
        snprintf(tenant, sizeof tenant, "%s", str(b, "name"));
        if ((rc = add(l, w, MK_TENANT, NULL, NULL, tenant, b))) {
            return rc;
        }
        json_t *nets, *nv;
        size_t j;
        if ((rc = list_of(l, w, v, "networks", &nets))) {
            return rc;
        }
        json_array_foreach(nets, j, nv) {
            char nw[512];
            pathf(nw, sizeof nw, "%s.networks[%zu]", w, j);
            if ((rc = load_network(l, nw, tenant, nv))) {
                return rc;
            }
        }
    }
    return 0;
}

int
spec_load_buffer(const char *buf, size_t len, bool json, const char *default_id,
                 struct spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *root;
    if (json) {
        json_error_t je;
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!root) {
            snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
            return EINVAL;
        }
    } else if (!(root = parse_yaml(buf, len, err, errlen))) {
        return EINVAL;
    }
    struct loader l = {out, err, errlen};
    int rc = load_root(&l, root, default_id);
    json_decref(root);
    if (rc) {
        spec_uninit(out);
    }
    return rc;
}

int
spec_load_file(const char *path, struct spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > (64u << 20)) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: larger than 64 MiB", path);
                return EFBIG;
            }
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "out of memory");
                return ENOMEM;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return EIO;
    }
    buf[len] = '\0';

    /* The default id: the base name without its extension. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char id[256];
    snprintf(id, sizeof id, "%s", base);
    char *dot = strrchr(id, '.');
    if (dot && dot != id) {
        *dot = '\0';
    }
    size_t n = strlen(path);
    bool json = n >= 5 && !strcmp(path + n - 5, ".json");
    if (!json) {
        size_t i = 0;
        while (i < len && strchr(" \t\r\n", buf[i])) {
            i++;
        }
        json = i < len && buf[i] == '{';
    }
    char inner[1024];
    int rc = spec_load_buffer(buf, len, json, id, out, inner, sizeof inner);
    free(buf);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, inner);
    }
    return rc;
}

void
spec_uninit(struct spec *s)
{
    free(s->id);
    s->id = NULL;
    model_set_uninit(&s->objs);
}
