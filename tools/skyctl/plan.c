/* plan.c: declared objects against the server's, into ordered actions.
 * The rules are in plan.h.
 *
 * The planner works on two sets it does not own (the spec's objects and the
 * server's) and on two flags per server object, kept in arrays indexed like
 * the server set: `deleting` (some action deletes it) and `replaced` (it is
 * deleted to be created again).  Decisions are taken kind by kind: forward
 * for replacements and updates, so a network is known to be replaced before
 * its switches are looked at; backward for deletes, so an object's
 * dependents are known to go (or stay) before the object itself is checked.
 * The four phases are collected in four lists and concatenated at the end. */
#include "tools/skyctl/plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct planner {
    const struct spec *spec;
    const struct model_set *srv;
    bool use_declared;          /* apply (updates happen) rather than destroy */
    bool *deleting, *replaced;
    struct plan phase[4];
    json_t *notes;
    char *err;
    size_t errlen;
};

static int fail(struct planner *, const char *, ...) __attribute__((format(printf, 2, 3)));
static int
fail(struct planner *pl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->err, pl->errlen, fmt, ap);
    va_end(ap);
    return EINVAL;
}

static void note(struct planner *, const char *, ...) __attribute__((format(printf, 2, 3)));
static void
note(struct planner *pl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(pl->notes, json_string(buf));
}

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool
streq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static size_t
idx(const struct planner *pl, const struct model_obj *s)
{
    return (size_t) (s - pl->srv->v);
}

static struct model_obj *
server_of(const struct planner *pl, const struct model_obj *d)
{
    return model_set_find(pl->srv, d->kind, d->tenant, d->network, d->name);
}

static struct model_obj *
declared_of(const struct planner *pl, const struct model_obj *s)
{
    return model_set_find(&pl->spec->objs, s->kind, s->tenant, s->network, s->name);
}

/* Whether server object 's' carries this file's mark. */
static bool
managed(const struct planner *pl, const struct model_obj *s)
{
    if (s->kind == MK_CLOUDLINK) {
        const char *a, *b;
        model_cloudlink_ends(s, &a, &b);
        if (!a || !b) {
            return false;
        }
        struct model_obj *ca = model_set_find(pl->srv, MK_CLOUD, NULL, NULL, a);
        struct model_obj *cb = model_set_find(pl->srv, MK_CLOUD, NULL, NULL, b);
        return ca && cb && managed(pl, ca) && managed(pl, cb);
    }
    return streq(model_managed_by(s), pl->spec->id);
}

static int
push(struct plan *p, enum plan_op op, const struct model_obj *want,
     const struct model_obj *have, json_t *body, json_t *changes, bool replace,
     const char *reason)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct plan_action *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            json_decref(body);
            json_decref(changes);
            return ENOMEM;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (struct plan_action) {op, want, have, body, changes, replace, reason};
    return 0;
}

/* --- comparing values --- */

static void
canon_mac(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++) {
        out[i] = in[i] == '-' ? ':' : (char) tolower((unsigned char) in[i]);
    }
    out[i] = '\0';
}

bool
plan_same_value(enum model_kind kind, const char *field, const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        double scale = fmax(1.0, fmax(fabs(x), fabs(y)));
        return fabs(x - y) <= 1e-9 * scale;
    }
    if (json_is_string(a) && json_is_string(b)) {
        const char *x = json_string_value(a), *y = json_string_value(b);
        if (kind == MK_CLOUD && !strcmp(field, "cost_per_hour")) {
            char *ex, *ey;
            double dx = strtod(x, &ex), dy = strtod(y, &ey);
            if (!*ex && !*ey && *x && *y) {
                return dx == dy;
            }
        }
        if (kind == MK_VM && !strcmp(field, "mac")) {
            char cx[32], cy[32];
            canon_mac(x, cx, sizeof cx);
            canon_mac(y, cy, sizeof cy);
            return !strcmp(cx, cy);
        }
        return !strcmp(x, y);
    }
    return json_equal((json_t *) a, (json_t *) b);
}

static int
change(json_t *changes, const char *field, json_t *old, json_t *new_)
{
    return json_array_append_new(changes, json_pack("{sssOsO}", "field", field,
                                                    "old", old ? old : json_null(),
                                                    "new", new_ ? new_ : json_null()));
}

static size_t
count_vms_in(const struct planner *pl, const char *tenant, const char *network)
{
    size_t n = 0;
    for (size_t i = 0; i < pl->srv->n; i++) {
        const struct model_obj *o = &pl->srv->v[i];
        n += o->kind == MK_VM && streq(o->tenant, tenant) && streq(o->network, network);
    }
    return n;
}

/* The labels a declared object should carry on server object 's'. */
static json_t *
wanted_labels(const struct planner *pl, const struct model_obj *d, bool mark)
{
    json_t *want = json_deep_copy(json_object_get(d->body, "labels"));
    if (!want) {
        want = json_object();
    }
    if (mark) {
        json_object_set_new(want, MODEL_LABEL, json_string(pl->spec->id));
    }
    return want;
}

/* Compares declared 'd' with server 's'.  On return *patch is the body of
 * the update (NULL if nothing changes), *changes the list of differences
 * and *replace whether they need a delete-then-create. */
static int
diff(struct planner *pl, const struct model_obj *d, const struct model_obj *s,
     json_t **patch, json_t **changes, bool *replace)
{
    json_t *p = json_object(), *ch = json_array();
    *replace = false;
    const char *k;
    json_t *dv;
    json_object_foreach(d->body, k, dv) {
        if (!strcmp(k, "name") || !strcmp(k, "labels")) {
            continue;
        }
        if (d->kind == MK_CLOUDLINK && (!strcmp(k, "a") || !strcmp(k, "b"))) {
            continue;
        }
        if (d->kind == MK_LINK && (!strcmp(k, "a") || !strcmp(k, "b"))) {
            continue;
        }
        json_t *sv = json_object_get(s->body, k);
        if (plan_same_value(d->kind, k, dv, sv ? sv : json_null())) {
            continue;
        }
        change(ch, k, sv, dv);
        bool forces = (d->kind == MK_HOST && !strcmp(k, "cloud"))
                      || (d->kind == MK_NETWORK
                          && (!strcmp(k, "subnet") || !strcmp(k, "tagging"))
                          && count_vms_in(pl, s->tenant, s->name) > 0);
        if (forces) {
            *replace = true;
        } else {
            json_object_set(p, k, dv);
        }
    }
    if (d->kind == MK_LINK) {
        const char *da = str(d->body, "a"), *db = str(d->body, "b");
        const char *sa = str(s->body, "a"), *sb = str(s->body, "b");
        bool same = (streq(da, sa) && streq(db, sb)) || (streq(da, sb) && streq(db, sa));
        if (!same) {
            change(ch, "a", json_object_get(s->body, "a"), json_object_get(d->body, "a"));
            change(ch, "b", json_object_get(s->body, "b"), json_object_get(d->body, "b"));
            json_object_set(p, "a", json_object_get(d->body, "a"));
            json_object_set(p, "b", json_object_get(d->body, "b"));
        }
    }
    if (d->kind == MK_HOST) {
        /* The API keeps exactly one of openflow and controller, and a
         * public_ip only on gateways: leaving the other out clears it. */
        static const char *const pairs[][2] = {{"openflow", "controller"},
                                               {"controller", "openflow"}};
        for (size_t i = 0; i < 2; i++) {
            json_t *mine = json_object_get(d->body, pairs[i][0]);
            json_t *other = json_object_get(s->body, pairs[i][1]);
            if (json_is_string(mine) && !json_object_get(d->body, pairs[i][1])
                && json_is_string(other)) {
                change(ch, pairs[i][1], other, NULL);
                json_object_set_new(p, pairs[i][1], json_null());
            }
        }
        json_t *pub = json_object_get(s->body, "public_ip");
        if (streq(str(d->body, "role"), "host") && !json_object_get(d->body, "public_ip")
            && json_is_string(pub)) {
            change(ch, "public_ip", pub, NULL);
            json_object_set_new(p, "public_ip", json_null());
        }
    }
    if (model_kind_has_status(d->kind) && d->kind != MK_TENANT) {
        json_t *want = wanted_labels(pl, d, managed(pl, s));
        json_t *have = json_object_get(s->body, "labels");
        json_t *merged = json_deep_copy(json_is_object(have) ? have : NULL);
        if (!merged) {
            merged = json_object();
        }
        bool differ = false;
        json_t *v;
        json_object_foreach(want, k, v) {
            json_t *hv = json_object_get(have, k);
            if (!hv || !json_equal(hv, v)) {
                char field[320];
                snprintf(field, sizeof field, "labels.%s", k);
                change(ch, field, hv, v);
                json_object_set(merged, k, v);
                differ = true;
            }
        }
        if (differ) {
            json_object_set(p, "labels", merged);
        }
        json_decref(merged);
        json_decref(want);
    } else if (d->kind == MK_TENANT) {
        json_t *want = json_object_get(d->body, "labels");
        json_t *have = json_object_get(s->body, "labels");
        json_t *v;
        json_object_foreach(want, k, v) {
            if (!json_equal(json_object_get(have, k), v)) {
                note(pl, "tenant %s: labels are set at creation only; %s is left as it is",
                     d->name, k);
            }
        }
    }
    if (d->kind == MK_CLOUDLINK && json_array_size(ch)) {
        /* PUT replaces the whole link: undeclared fields keep the server's. */
        static const char *const f[] = {"cost", "rtt_ms", "bandwidth_mbps"};
        json_decref(p);
        p = json_object();
        for (size_t i = 0; i < 3; i++) {
            json_t *v = json_object_get(d->body, f[i]);
            if (!v) {
                v = json_object_get(s->body, f[i]);
            }
            if (v && !json_is_null(v)) {
                json_object_set(p, f[i], v);
            }
        }
    }
    if (!json_array_size(ch)) {
        json_decref(ch);
        ch = NULL;
    }
    if (!ch || *replace) {
        json_decref(p);
        p = NULL;
    }
    *patch = p;
    *changes = ch;
    return 0;
}

/* The body that creates declared 'd'. */
static json_t *
create_body(const struct planner *pl, const struct model_obj *d)
{
    json_t *b = json_deep_copy(d->body);
    if (d->kind == MK_CLOUDLINK) {
        json_object_del(b, "a");
        json_object_del(b, "b");
        return b;
    }
    if (d->kind == MK_LINK) {
        json_object_set_new(b, "name", json_string(d->name));
    }
    json_object_set_new(b, "labels", wanted_labels(pl, d, true));
    return b;
}

/* --- who still uses an object --- */

/* The switch, host, and link ends a server object will have after the
 * updates of this apply (its server values for destroy). */
static const json_t *
effective(const struct planner *pl, const struct model_obj *s)
{
    if (pl->use_declared) {
        const struct model_obj *d = declared_of(pl, s);
        if (d) {
            return d->body;
        }
    }
    return s->body;
}

static const char *
vm_host(const struct planner *pl, const struct model_obj *vm)
{
    const json_t *b = effective(pl, vm);
    const char *h = str(json_object_get(b, "placement"), "host");
    return h ? h : str(vm->body, "host");
}

/* Describes in 'why' what keeps server object 's' from being deleted now,
 * given the deletes decided so far; returns false if nothing does. */
static bool
blocked(const struct planner *pl, const struct model_obj *s, char *why, size_t len)
{
    size_t n = 0, known_on_host = 0;
    const char *what = NULL;
    for (size_t i = 0; i < pl->srv->n; i++) {
        const struct model_obj *o = &pl->srv->v[i];
        if (s->kind == MK_HOST && o->kind == MK_VM && streq(str(o->body, "host"), s->name)) {
            known_on_host++;
        }
        if (pl->deleting[i]) {
            continue;
        }
        const json_t *e = effective(pl, o);
        switch (s->kind) {
        case MK_CLOUD:
            if (o->kind == MK_HOST && streq(str(e, "cloud"), s->name)) {
                n++, what = "hosts";
            }
            break;
        case MK_HOST:
            if (o->kind == MK_VM && streq(vm_host(pl, o), s->name)) {
                n++, what = "VMs";
            }
            break;
        case MK_TENANT:
            if (o->kind == MK_NETWORK && streq(o->tenant, s->name)) {
                n++, what = "networks";
            }
            break;
        case MK_NETWORK:
            if ((o->kind == MK_SWITCH || o->kind == MK_LINK || o->kind == MK_VM)
                && streq(o->tenant, s->tenant) && streq(o->network, s->name)) {
                n++, what = "switches, links or VMs";
            }
            break;
        case MK_SWITCH:
            if (!streq(o->tenant, s->tenant) || !streq(o->network, s->network)) {
                break;
            }
            if (o->kind == MK_VM && streq(str(e, "switch"), s->name)) {
                n++, what = "VMs or links";
            }
            if (o->kind == MK_LINK
                && (streq(str(e, "a"), s->name) || streq(str(e, "b"), s->name))) {
                n++, what = "VMs or links";
            }
            break;
        default:
            break;
        }
    }
    if (s->kind == MK_HOST) {
        /* VMs of tenants this plan did not read still count. */
        json_int_t total = json_integer_value(json_object_get(s->body, "vm_count"));
        if (total > (json_int_t) known_on_host) {
            n += (size_t) (total - (json_int_t) known_on_host);
            what = "VMs";
        }
    }
    if (n) {
        snprintf(why, len, "still has %zu %s that stay", n, what);
    }
    return n > 0;
}

/* --- the planner's passes --- */

static bool
is_leaf(enum model_kind k)
{
    return k == MK_VM || k == MK_LINK || k == MK_CLOUDLINK;
}

static bool
parent_replaced(const struct planner *pl, const struct model_obj *d)
{
    if (!d->network) {
        return false;
    }
    struct model_obj *net = model_set_find(pl->srv, MK_NETWORK, d->tenant, NULL, d->network);
    return net && pl->replaced[idx(pl, net)];
}

/* Replacing network 's': its switches, links and VMs go first. */
static int
cascade(struct planner *pl, const struct model_obj *s)
{
    static const enum model_kind order[] = {MK_VM, MK_LINK, MK_SWITCH};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < pl->srv->n; i++) {
            const struct model_obj *o = &pl->srv->v[i];
            if (o->kind != order[k] || !streq(o->tenant, s->tenant)
                || !streq(o->network, s->name)) {
                continue;
            }
            char path[400];
            if (!managed(pl, o)) {
                return fail(pl, "network %s must be replaced (its subnet or tagging "
                            "changes while it has VMs), but %s %s was not created by "
                            "this file", model_path(s, path, sizeof path),
                            model_kind_name(o->kind), o->name);
            }
            bool again = declared_of(pl, o) != NULL;
            pl->deleting[i] = true;
            pl->replaced[i] = again;
            int rc = push(&pl->phase[0], PLAN_DELETE, NULL, o, NULL, NULL, again,
                          "its network is replaced");
            if (rc) {
                return rc;
            }
        }
    }
    return 0;
}

static int
plan_forward(struct planner *pl)
{
    for (int kind = 0; kind < MK__N; kind++) {
        for (size_t i = 0; i < pl->spec->objs.n; i++) {
            const struct model_obj *d = &pl->spec->objs.v[i];
            if ((int) d->kind != kind) {
                continue;
            }
            struct model_obj *s = server_of(pl, d);
            int rc;
            if (!s || parent_replaced(pl, d)) {
                rc = push(&pl->phase[2], PLAN_CREATE, d, NULL, create_body(pl, d), NULL,
                          s != NULL, NULL);
                if (rc) {
                    return rc;
                }
                continue;
            }
            json_t *patch, *changes;
            bool replace;
            if ((rc = diff(pl, d, s, &patch, &changes, &replace))) {
                return rc;
            }
            if (replace) {
                char path[400];
                if (d->kind == MK_HOST
                    && json_integer_value(json_object_get(s->body, "vm_count")) > 0) {
                    json_decref(changes);
                    return fail(pl, "host %s cannot change cloud: it must be deleted "
                                "and created again, and it still has VMs", d->name);
                }
                if (!managed(pl, s)) {
                    json_decref(changes);
                    return fail(pl, "%s %s must be replaced, but it was not created "
                                "by this file", model_kind_name(d->kind),
                                model_path(d, path, sizeof path));
                }
                if (d->kind == MK_NETWORK && (rc = cascade(pl, s))) {
                    json_decref(changes);
                    return rc;
                }
                pl->deleting[idx(pl, s)] = pl->replaced[idx(pl, s)] = true;
                if ((rc = push(&pl->phase[0], PLAN_DELETE, d, s, NULL, changes, true,
                               NULL))
                    || (rc = push(&pl->phase[2], PLAN_CREATE, d, s, create_body(pl, d),
                                  NULL, true, NULL))) {
                    return rc;
                }
            } else if (patch) {
                if ((rc = push(&pl->phase[2], PLAN_UPDATE, d, s, patch, changes, false,
                               NULL))) {
                    return rc;
                }
            }
        }
    }
    return 0;
}

/* Deletes, dependents first: 'declared' selects destroy's targets (declared
 * and marked) or prune's (marked and no longer declared). */
static int
plan_deletes(struct planner *pl, bool declared, bool prune)
{
    for (int kind = MK__N - 1; kind >= 0; kind--) {
        /* Phase 0 deletes already hold the replaced objects (and their
         * order); walk the server set backwards within a kind. */
        for (size_t i = pl->srv->n; i-- > 0;) {
            const struct model_obj *s = &pl->srv->v[i];
            if ((int) s->kind != kind || pl->deleting[i]) {
                continue;
            }
            bool is_declared = declared_of(pl, s) != NULL;
            /* destroy also takes what this file made inside a tenant it
             * declares, though the file no longer lists it. */
            bool inside = declared && !is_declared && s->tenant
                          && model_set_find(&pl->spec->objs, MK_TENANT, NULL, NULL,
                                            s->tenant) && managed(pl, s);
            if (is_declared != declared && !inside) {
                continue;
            }
            char path[400], why[200];
            model_path(s, path, sizeof path);
            if (!managed(pl, s)) {
                if (declared) {
                    note(pl, "%s %s: kept, not created by this file",
                         model_kind_name(s->kind), path);
                }
                continue;
            }
            if (!prune) {
                note(pl, "%s %s: no longer in the file, kept (--prune deletes it)",
                     model_kind_name(s->kind), path);
                continue;
            }
            if (blocked(pl, s, why, sizeof why)) {
                note(pl, "%s %s: kept, it %s", model_kind_name(s->kind), path, why);
                continue;
            }
            pl->deleting[i] = true;
            int phase = declared || !is_leaf(s->kind) ? 3 : 1;
            int rc = push(&pl->phase[phase], PLAN_DELETE, NULL, s, NULL, NULL, false, NULL);
            if (rc) {
                return rc;
            }
        }
    }
    return 0;
}

static int
finish(struct planner *pl, struct plan *out, int rc)
{
    memset(out, 0, sizeof *out);
    out->notes = pl->notes;
    for (int ph = 0; ph < 4; ph++) {
        struct plan *p = &pl->phase[ph];
        for (size_t i = 0; i < p->n; i++) {
            struct plan_action *a = &p->v[i];
            if (!rc) {
                rc = push(out, a->op, a->want, a->have, a->body, a->changes, a->replace,
                          a->reason);
                if (!rc) {
                    out->n_create += a->op == PLAN_CREATE;
                    out->n_update += a->op == PLAN_UPDATE;
                    out->n_delete += a->op == PLAN_DELETE;
                }
            } else {
                json_decref(a->body);
                json_decref(a->changes);
            }
        }
        free(p->v);
    }
    free(pl->deleting);
    free(pl->replaced);
    if (rc) {
        plan_uninit(out);
        if (rc == ENOMEM) {
            snprintf(pl->err, pl->errlen, "out of memory");
        }
    }
    return rc;
}

static int
start(struct planner *pl, const struct spec *spec, const struct model_set *server,
      bool use_declared, char *err, size_t errlen)
{
    memset(pl, 0, sizeof *pl);
    pl->spec = spec;
    pl->srv = server;
    pl->use_declared = use_declared;
    pl->err = err;
    pl->errlen = errlen;
    pl->deleting = calloc(server->n + 1, sizeof *pl->deleting);
    pl->replaced = calloc(server->n + 1, sizeof *pl->replaced);
    pl->notes = json_array();
    if (!pl->deleting || !pl->replaced || !pl->notes) {
        return ENOMEM;
    }
    return 0;
}

int
plan_build(const struct spec *spec, const struct model_set *server, bool prune,
           struct plan *out, char *err, size_t errlen)
{
    struct planner pl;
    int rc = start(&pl, spec, server, true, err, errlen);
    if (!rc) {
        rc = plan_forward(&pl);
    }
    if (!rc) {
        rc = plan_deletes(&pl, false, prune);
    }
    return finish(&pl, out, rc);
}

int
plan_destroy(const struct spec *spec, const struct model_set *server, struct plan *out,
             char *err, size_t errlen)
{
    struct planner pl;
    int rc = start(&pl, spec, server, false, err, errlen);
    if (!rc) {
        rc = plan_deletes(&pl, true, true);
    }
    return finish(&pl, out, rc);
}

void
plan_uninit(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        json_decref(p->v[i].body);
        json_decref(p->v[i].changes);
    }
    free(p->v);
    json_decref(p->notes);
    memset(p, 0, sizeof *p);
}
