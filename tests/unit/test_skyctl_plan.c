/* Unit tests for skyctl's pure parts: the declaration file loader
 * (tools/skyctl/spec.c) and the planner (tools/skyctl/plan.c).  The server
 * side is built in memory in the shape the API answers with (the
 * integration suite tests/integration/test_skyctl.py checks the same rules
 * against a real skyvisord). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/skyctl/plan.h"
#include "tools/skyctl/spec.h"

static const char base_yaml[] =
    "name: t\n"
    "clouds:\n"
    "  - {name: c1, provider: aws, region: r1, jurisdiction: DE, kind: public,\n"
    "     cost_per_hour: 0.096}\n"
    "cloud_links:\n"
    "  - {a: c1, b: c0, cost: 3}\n"
    "hosts:\n"
    "  - {name: h1, cloud: c1, tunnel_ip: 198.18.1.2, ovsdb: 'unix:/x/db.sock',\n"
    "     openflow: 'unix:/x/m'}\n"
    "tenants:\n"
    "  - name: red\n"
    "    networks:\n"
    "      - name: prod\n"
    "        subnet: 10.0.0.0/24\n"
    "        switches: [front, {name: back}]\n"
    "        links: [front--back]\n"
    "        vms:\n"
    "          - {name: web, switch: front, mac: '02:00:00:00:00:0A', ip: 10.0.0.1,\n"
    "             placement: {host: h1}}\n";

static void
load(const char *text, bool json, struct spec *s)
{
    char err[512];
    int rc = spec_load_buffer(text, strlen(text), json, "default-id", s, err, sizeof err);
    if (rc) {
        fail_msg("load: %s", err);
    }
}

static void
load_fails(const char *text, const char *expect)
{
    struct spec s;
    char err[512];
    int rc = spec_load_buffer(text, strlen(text), false, "x", &s, err, sizeof err);
    assert_int_equal(rc, EINVAL);
    if (!strstr(err, expect)) {
        fail_msg("error '%s' does not contain '%s'", err, expect);
    }
}

/* The server's answer for a declared object: its body, the mark (if
 * 'mark'), a status and the read-only fields the API adds. */
static void
serve(struct model_set *srv, const struct model_obj *d, const char *mark)
{
    json_t *b = json_deep_copy(d->body);
    json_t *labels = json_deep_copy(json_object_get(d->body, "labels"));
    if (!labels) {
        labels = json_object();
    }
    if (mark) {
        json_object_set_new(labels, MODEL_LABEL, json_string(mark));
    }
    if (d->kind != MK_CLOUDLINK) {
        json_object_set_new(b, "labels", labels);
        json_object_set_new(b, "id", json_string("00000000-0000-0000-0000-000000000001"));
        json_object_set_new(b, "status", json_pack("{sssnsisi}", "state", "pending",
                                                   "detail", "generation", 1,
                                                   "observed_generation", 0));
    } else {
        json_decref(labels);
    }
    if (d->kind == MK_HOST) {
        json_object_set_new(b, "vm_count", json_integer(0));
        json_object_set_new(b, "controller", json_null());
    }
    if (d->kind == MK_VM) {
        json_object_set_new(b, "host", json_string("h1"));
    }
    assert_non_null(model_set_add(srv, d->kind, d->tenant, d->network, d->name, b));
}

static void
serve_all(struct model_set *srv, const struct spec *s, const char *mark)
{
    for (size_t i = 0; i < s->objs.n; i++) {
        serve(srv, &s->objs.v[i], mark);
    }
}

static struct model_obj *
srv_obj(struct model_set *srv, enum model_kind k, const char *t, const char *n,
        const char *name)
{
    struct model_obj *o = model_set_find(srv, k, t, n, name);
    assert_non_null(o);
    return o;
}

/* "+cloud c1,~host h1,-vm red/prod/web" */
static char *
summary(const struct plan *p)
{
    static char buf[4096];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_action *a = &p->v[i];
        const struct model_obj *o = a->want ? a->want : a->have;
        char path[256];
        const char *op = a->op == PLAN_CREATE ? (a->replace ? "+/" : "+")
                         : a->op == PLAN_UPDATE ? "~" : (a->replace ? "-/" : "-");
        off += (size_t) snprintf(buf + off, sizeof buf - off, "%s%s%s %s", i ? "," : "",
                                 op, model_kind_name(o->kind),
                                 model_path(o, path, sizeof path));
    }
    return buf;
}

/* Whether 'got' equals 'want'; consumes 'want'. */
static bool
eq(const json_t *got, json_t *want)
{
    bool same = json_equal((json_t *) got, want);
    json_decref(want);
    return same;
}

static bool
has_note(const struct plan *p, const char *text)
{
    for (size_t i = 0; i < json_array_size(p->notes); i++) {
        if (strstr(json_string_value(json_array_get(p->notes, i)), text)) {
            return true;
        }
    }
    return false;
}

static void
build(const struct spec *s, const struct model_set *srv, bool prune, struct plan *p)
{
    char err[512];
    if (plan_build(s, srv, prune, p, err, sizeof err)) {
        fail_msg("plan: %s", err);
    }
}

/* --- the loader --- */

static void
test_yaml_and_json_agree(void **state)
{
    (void) state;
    static const char json[] =
        "{\"name\": \"t\", \"clouds\": [{\"name\": \"c1\", \"provider\": \"aws\","
        " \"region\": \"r1\", \"jurisdiction\": \"DE\", \"kind\": \"public\","
        " \"cost_per_hour\": \"0.096\"}],"
        " \"cloud_links\": [{\"a\": \"c1\", \"b\": \"c0\", \"cost\": 3}],"
        " \"hosts\": [{\"name\": \"h1\", \"cloud\": \"c1\", \"tunnel_ip\": \"198.18.1.2\","
        " \"ovsdb\": \"unix:/x/db.sock\", \"openflow\": \"unix:/x/m\"}],"
        " \"tenants\": [{\"name\": \"red\", \"networks\": [{\"name\": \"prod\","
        " \"subnet\": \"10.0.0.0/24\", \"switches\": [\"front\", {\"name\": \"back\"}],"
        " \"links\": [{\"a\": \"front\", \"b\": \"back\"}],"
        " \"vms\": [{\"name\": \"web\", \"switch\": \"front\", \"mac\": \"02:00:00:00:00:0A\","
        " \"ip\": \"10.0.0.1\", \"placement\": {\"host\": \"h1\"}}]}]}]}";
    struct spec y, j;
    load(base_yaml, false, &y);
    load(json, true, &j);
    assert_string_equal(y.id, "t");
    assert_int_equal(y.objs.n, 9);
    assert_int_equal(j.objs.n, y.objs.n);
    for (size_t i = 0; i < y.objs.n; i++) {
        assert_int_equal(y.objs.v[i].kind, j.objs.v[i].kind);
        assert_string_equal(y.objs.v[i].name, j.objs.v[i].name);
        assert_true(json_equal(y.objs.v[i].body, j.objs.v[i].body));
    }
    /* Names: a cloud link and a link by their sorted ends. */
    assert_non_null(model_set_find(&y.objs, MK_CLOUDLINK, NULL, NULL, "c0--c1"));
    assert_non_null(model_set_find(&y.objs, MK_LINK, "red", "prod", "back--front"));
    /* A number for a string field is its text. */
    const struct model_obj *c = model_set_find(&y.objs, MK_CLOUD, NULL, NULL, "c1");
    assert_string_equal(json_string_value(json_object_get(c->body, "cost_per_hour")),
                        "0.096");
    spec_uninit(&y);
    spec_uninit(&j);

    /* YAML scalars: decimal numbers only; anything else stays text. */
    struct spec t;
    load("clouds:\n"
         "  - {name: a, provider: aws, region: 0x10, jurisdiction: DE, kind: public}\n"
         "  - {name: b, provider: aws, region: 12, jurisdiction: DE, kind: public,\n"
         "     cost_per_hour: 1.50}\n"
         "  - {name: c, provider: aws, region: nan, jurisdiction: DE, kind: public}\n"
         "cloud_links:\n  - {a: a, b: b, cost: 1e1, rtt_ms: ~}\n", false, &t);
    static const char *const regions[][2] = {{"a", "0x10"}, {"b", "12"}, {"c", "nan"}};
    for (size_t i = 0; i < 3; i++) {
        const struct model_obj *o = model_set_find(&t.objs, MK_CLOUD, NULL, NULL,
                                                   regions[i][0]);
        assert_string_equal(json_string_value(json_object_get(o->body, "region")),
                            regions[i][1]);
    }
    assert_string_equal(json_string_value(json_object_get(
        model_set_find(&t.objs, MK_CLOUD, NULL, NULL, "b")->body, "cost_per_hour")), "1.5");
    const struct model_obj *cl = model_set_find(&t.objs, MK_CLOUDLINK, NULL, NULL, "a--b");
    assert_true(json_real_value(json_object_get(cl->body, "cost")) == 10.0);
    assert_true(json_is_null(json_object_get(cl->body, "rtt_ms")));
    spec_uninit(&t);

    /* Without a name the id is the caller's default. */
    struct spec d;
    load("clouds: []\n", false, &d);
    assert_string_equal(d.id, "default-id");
    assert_int_equal(d.objs.n, 0);
    spec_uninit(&d);
}

static void
test_loader_errors(void **state)
{
    (void) state;
    load_fails("clouds:\n  - {name: c, provider: aws, region: r, jurisdiction: DE,"
               " kind: public, colour: red}\n", "clouds[0]: unknown key 'colour'");
    load_fails("clouds:\n  - {name: c, provider: aws, region: r, kind: public}\n",
               "clouds[0]: missing required key 'jurisdiction'");
    load_fails("hosts:\n  - {name: h, cloud: c, tunnel_ip: 1.2.3.4, ovsdb: x,"
               " capacity: many}\n", "hosts[0].capacity: must be an integer");
    load_fails("tenants:\n  - {name: a}\n  - {name: a}\n", "tenant 'a' is declared twice");
    load_fails("tenants:\n  - {name: a, labels: {skyctl.managed-by: x}}\n",
               "reserved for skyctl");
    load_fails("tenants:\n  - name: a\n    networks:\n      - {name: n, subnet: s,"
               " links: [frontback]}\n", "tenants[0].networks[0].links[0]");
    load_fails("tenants:\n  - name: a\n    networks:\n      - {name: n, subnet: s,"
               " vms: [{name: v, switch: s, mac: m, ip: i}]}\n",
               "tenants[0].networks[0].vms[0]: missing required key 'placement'");
    load_fails("volumes: []\n", "unknown top-level key 'volumes'");
    load_fails("- a\n- b\n", "must be a mapping");
    load_fails("clouds: [\n", "line");
    load_fails("clouds: []\nclouds: []\n", "duplicate key 'clouds'");
    load_fails("cloud_links:\n  - {a: x, b: x, cost: 1}\n", "two different clouds");
    load_fails("name: 'has space'\n", "printable ASCII");
    load_fails("hosts: 3\n", "hosts: must be a list");
    load_fails("tenants:\n  - {name: a/b}\n", "tenants[0]: name 'a/b' may hold only");
    load_fails("cloud_links:\n  - {a: x, b: '?y', cost: 1}\n", "name '?y--x'");
}

/* --- the planner --- */

static void
test_empty_server_creates_in_order(void **state)
{
    (void) state;
    struct spec s;
    struct model_set srv = {0};
    struct plan p;
    load(base_yaml, false, &s);
    build(&s, &srv, false, &p);
    assert_string_equal(summary(&p),
                        "+cloud c1,+cloud-link c0--c1,+host h1,+tenant red,+network red/prod,"
                        "+switch red/prod/front,+switch red/prod/back,"
                        "+link red/prod/back--front,+vm red/prod/web");
    assert_int_equal(p.n_create, 9);
    /* Every create carries the mark; a cloud link's body is just its cost. */
    for (size_t i = 0; i < p.n; i++) {
        const json_t *b = p.v[i].body;
        if (p.v[i].want->kind == MK_CLOUDLINK) {
            assert_true(eq(b, json_pack("{si}", "cost", 3)));
        } else {
            assert_string_equal(json_string_value(json_object_get(
                                    json_object_get(b, "labels"), MODEL_LABEL)), "t");
        }
    }
    assert_string_equal(json_string_value(json_object_get(p.v[7].body, "name")),
                        "back--front");
    plan_uninit(&p);
    spec_uninit(&s);
}

static void
test_same_state_plans_nothing(void **state)
{
    (void) state;
    struct spec s;
    struct model_set srv = {0};
    struct plan p;
    load(base_yaml, false, &s);
    serve_all(&srv, &s, "t");
    /* The server's spellings: lowercase MAC, the cost with trailing zeros,
     * a link's ends in the other order, a float cost for the cloud link. */
    json_object_set_new(srv_obj(&srv, MK_VM, "red", "prod", "web")->body, "mac",
                        json_string("02:00:00:00:00:0a"));
    json_object_set_new(srv_obj(&srv, MK_CLOUD, NULL, NULL, "c1")->body, "cost_per_hour",
                        json_string("0.096000"));
    json_t *l = srv_obj(&srv, MK_LINK, "red", "prod", "back--front")->body;
    json_object_set_new(l, "a", json_string("back"));
    json_object_set_new(l, "b", json_string("front"));
    json_object_set_new(srv_obj(&srv, MK_CLOUDLINK, NULL, NULL, "c0--c1")->body, "cost",
                        json_real(3.0));
    /* Labels someone else added are left alone. */
    json_object_set_new(json_object_get(srv_obj(&srv, MK_HOST, NULL, NULL, "h1")->body,
                                        "labels"), "team", json_string("net"));
    build(&s, &srv, false, &p);
    assert_int_equal(p.n, 0);
    assert_int_equal(json_array_size(p.notes), 0);
    plan_uninit(&p);
    model_set_uninit(&srv);
    spec_uninit(&s);
}

static void
test_changed_fields_are_patched(void **state)
{
    (void) state;
    struct spec s;
    struct model_set srv = {0};
    struct plan p;
    load(base_yaml, false, &s);
    serve_all(&srv, &s, "t");
    json_t *vm = srv_obj(&srv, MK_VM, "red", "prod", "web")->body;
    json_object_set_new(vm, "ip", json_string("10.0.0.9"));
    json_t *h = srv_obj(&srv, MK_HOST, NULL, NULL, "h1")->body;
    json_object_set_new(h, "openflow", json_null());
    json_object_set_new(h, "controller", json_string("tcp:1.2.3.4:6653"));
    json_object_set_new(srv_obj(&srv, MK_CLOUDLINK, NULL, NULL, "c0--c1")->body, "rtt_ms",
                        json_integer(31));
    json_object_set_new(srv_obj(&srv, MK_CLOUDLINK, NULL, NULL, "c0--c1")->body, "cost",
                        json_integer(4));
    build(&s, &srv, false, &p);
    assert_string_equal(summary(&p), "~cloud-link c0--c1,~host h1,~vm red/prod/web");
    assert_int_equal(p.n_update, 3);
    /* The cloud link is PUT whole: the undeclared rtt_ms stays. */
    assert_true(eq(p.v[0].body, json_pack("{sisi}", "cost", 3, "rtt_ms", 31)));
    /* openflow back, and the controller it replaces cleared. */
    assert_true(eq(p.v[1].body, json_pack("{sssn}", "openflow", "unix:/x/m",
                                                  "controller")));
    assert_int_equal(json_array_size(p.v[1].changes), 2);
    /* Only the changed field, with old and new. */
    assert_true(eq(p.v[2].body, json_pack("{ss}", "ip", "10.0.0.1")));
    json_t *c = json_array_get(p.v[2].changes, 0);
    assert_string_equal(json_string_value(json_object_get(c, "field")), "ip");
    assert_string_equal(json_string_value(json_object_get(c, "old")), "10.0.0.9");
    assert_string_equal(json_string_value(json_object_get(c, "new")), "10.0.0.1");
    plan_uninit(&p);
    model_set_uninit(&srv);
    spec_uninit(&s);
}

static void
test_unmanaged_objects_are_updated_not_marked(void **state)
{
    (void) state;
    struct spec s;
    struct model_set srv = {0};
    struct plan p;
    load("name: t\nclouds:\n  - {name: c1, provider: aws, region: r2, jurisdiction: DE,"
         " kind: public, labels: {env: prod}}\n", false, &s);
    serve_all(&srv, &s, NULL);
    json_t *b = srv_obj(&srv, MK_CLOUD, NULL, NULL, "c1")->body;
    json_object_set_new(b, "region", json_string("r1"));
    json_object_set_new(b, "labels", json_pack("{ss}", "env", "dev"));
    build(&s, &srv, false, &p);
    assert_string_equal(summary(&p), "~cloud c1");
    assert_true(eq(p.v[0].body, json_pack("{sss{ss}}", "region", "r2", "labels",
                                                  "env", "prod")));
    plan_uninit(&p);
    model_set_uninit(&srv);
    /* ...and never deleted, with --prune or by destroy. */
    serve_all(&srv, &s, NULL);
    char err[256];
    assert_int_equal(plan_destroy(&s, &srv, &p, err, sizeof err), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(json_array_size(p.notes), 1);
    plan_uninit(&p);
    model_set_uninit(&srv);
    spec_uninit(&s);
}

static void
test_prune(void **state)
{
    (void) state;
    struct spec s, old;
    struct model_set srv = {0};
    struct plan p;
    load(base_yaml, false, &s);
    serve_all(&srv, &s, "t");
    /* What an older version of the file made, and what someone else made. */
    load("name: t\ntenants:\n  - name: red\n    networks:\n      - name: prod\n"
         "        subnet: 10.0.0.0/24\n        switches: [old, other]\n"
         "        vms:\n          - {name: gone, switch: front, mac: m, ip: i,"
         " placement: {host: h1}}\n", false, &old);
    serve(&srv, model_set_find(&old.objs, MK_SWITCH, "red", "prod", "old"), "t");
    serve(&srv, model_set_find(&old.objs, MK_VM, "red", "prod", "gone"), "t");
    serve(&srv, model_set_find(&old.objs, MK_SWITCH, "red", "prod", "other"), "someone");
    struct spec hand;
    load("tenants:\n  - name: red\n    networks:\n      - name: prod\n"
         "        subnet: 10.0.0.0/24\n        vms:\n          - {name: byhand,"
         " switch: front, mac: m, ip: i, placement: {host: h1}}\n", false, &hand);
    serve(&srv, model_set_find(&hand.objs, MK_VM, "red", "prod", "byhand"), NULL);

    build(&s, &srv, false, &p);
    assert_int_equal(p.n, 0);
    assert_int_equal(json_array_size(p.notes), 2);    /* old and gone are kept */
    assert_non_null(strstr(json_string_value(json_array_get(p.notes, 0)), "--prune"));
    plan_uninit(&p);

    build(&s, &srv, true, &p);
    assert_string_equal(summary(&p), "-vm red/prod/gone,-switch red/prod/old");
    assert_int_equal(p.n_delete, 2);
    plan_uninit(&p);

    /* A marked switch someone else's VM still uses stays. */
    json_object_set_new(srv_obj(&srv, MK_VM, "red", "prod", "byhand")->body, "switch",
                        json_string("old"));
    build(&s, &srv, true, &p);
    assert_string_equal(summary(&p), "-vm red/prod/gone");
    assert_non_null(strstr(json_string_value(json_array_get(p.notes, 0)),
                           "switch red/prod/old: kept, it still has 1 VMs or links"));
    plan_uninit(&p);

    model_set_uninit(&srv);
    spec_uninit(&hand);
    spec_uninit(&old);
    spec_uninit(&s);
}

static void
test_prune_order_around_moves(void **state)
{
    (void) state;
    /* The file moves web from switch old to front and drops old: the
     * update comes before the delete, which is no longer blocked. */
    struct spec s, old;
    struct model_set srv = {0};
    struct plan p;
    load(base_yaml, false, &s);
    serve_all(&srv, &s, "t");
    load("tenants:\n  - name: red\n    networks:\n      - name: prod\n"
         "        subnet: 10.0.0.0/24\n        switches: [old]\n", false, &old);
    serve(&srv, model_set_find(&old.objs, MK_SWITCH, "red", "prod", "old"), "t");
    json_object_set_new(srv_obj(&srv, MK_VM, "red", "prod", "web")->body, "switch",
                        json_string("old"));
    build(&s, &srv, true, &p);
    assert_string_equal(summary(&p), "~vm red/prod/web,-switch red/prod/old");
    plan_uninit(&p);
    model_set_uninit(&srv);
    spec_uninit(&old);
    spec_uninit(&s);
}

static void
test_replacements(void **state)
{
    (void) state;
    struct spec s;
    struct model_set srv = {0};
    struct plan p;
    char err[512];
    load(base_yaml, false, &s);

    /* A host's cloud is immutable: -/+ ... */
    serve_all(&srv, &s, "t");
    json_t *h = srv_obj(&srv, MK_HOST, NULL, NULL, "h1")->body;
    json_object_set_new(h, "cloud", json_string("c9"));
    build(&s, &srv, false, &p);
    assert_string_equal(summary(&p), "-/host h1,+/host h1");
    plan_uninit(&p);
    /* ... impossible while it has VMs. */
    json_object_set_new(h, "vm_count", json_integer(1));
    assert_int_equal(plan_build(&s, &srv, false, &p, err, sizeof err), EINVAL);
    assert_non_null(strstr(err, "host h1 cannot change cloud"));
    model_set_uninit(&srv);

    /* A subnet change is a PATCH while the network is empty... */
    serve_all(&srv, &s, "t");
    struct model_set empty = {0};
    for (size_t i = 0; i < srv.n; i++) {
        if (srv.v[i].kind != MK_VM) {
            model_set_add(&empty, srv.v[i].kind, srv.v[i].tenant, srv.v[i].network,
                          srv.v[i].name, json_incref(srv.v[i].body));
        }
    }
    json_object_set_new(srv_obj(&empty, MK_NETWORK, "red", NULL, "prod")->body, "subnet",
                        json_string("10.9.0.0/24"));
    build(&s, &empty, false, &p);
    assert_string_equal(summary(&p), "~network red/prod,+vm red/prod/web");
    plan_uninit(&p);
    model_set_uninit(&empty);

    /* ... and with VMs a replacement of the network and all in it. */
    json_object_set_new(srv_obj(&srv, MK_NETWORK, "red", NULL, "prod")->body, "subnet",
                        json_string("10.9.0.0/24"));
    build(&s, &srv, false, &p);
    assert_string_equal(summary(&p),
                        "-/vm red/prod/web,-/link red/prod/back--front,"
                        "-/switch red/prod/front,-/switch red/prod/back,-/network red/prod,"
                        "+/network red/prod,+/switch red/prod/front,+/switch red/prod/back,"
                        "+/link red/prod/back--front,+/vm red/prod/web");
    assert_int_equal(p.n_create, 5);
    assert_int_equal(p.n_delete, 5);
    plan_uninit(&p);

    /* Not if something in it was made by someone else. */
    json_object_set_new(json_object_get(srv_obj(&srv, MK_VM, "red", "prod", "web")->body,
                                        "labels"), MODEL_LABEL, json_string("other"));
    assert_int_equal(plan_build(&s, &srv, false, &p, err, sizeof err), EINVAL);
    assert_non_null(strstr(err, "vm web was not created by this file"));
    model_set_uninit(&srv);
    spec_uninit(&s);
}

static void
test_destroy(void **state)
{
    (void) state;
    struct spec s;
    struct model_set srv = {0};
    struct plan p;
    char err[256];
    load(base_yaml, false, &s);
    serve_all(&srv, &s, "t");
    /* c0 is someone else's: the cloud link to it is not this file's. */
    struct spec other;
    load("clouds:\n  - {name: c0, provider: aws, region: r, jurisdiction: DE,"
         " kind: public}\n", false, &other);
    serve(&srv, &other.objs.v[0], NULL);
    assert_int_equal(plan_destroy(&s, &srv, &p, err, sizeof err), 0);
    assert_string_equal(summary(&p),
                        "-vm red/prod/web,-link red/prod/back--front,-switch red/prod/back,"
                        "-switch red/prod/front,-network red/prod,-tenant red,-host h1,"
                        "-cloud c1");
    assert_int_equal(json_array_size(p.notes), 1);
    assert_non_null(strstr(json_string_value(json_array_get(p.notes, 0)), "c0--c1"));
    plan_uninit(&p);

    /* What the file made in its tenants but no longer lists goes too;
     * what someone else made there keeps its network and tenant. */
    struct spec old;
    load("tenants:\n  - name: red\n    networks:\n      - name: prod\n"
         "        subnet: 10.0.0.0/24\n        switches: [old, hand]\n", false, &old);
    serve(&srv, model_set_find(&old.objs, MK_SWITCH, "red", "prod", "old"), "t");
    assert_int_equal(plan_destroy(&s, &srv, &p, err, sizeof err), 0);
    assert_non_null(strstr(summary(&p), "-switch red/prod/old,-switch red/prod/back"));
    assert_int_equal(p.n_delete, 9);
    plan_uninit(&p);
    serve(&srv, model_set_find(&old.objs, MK_SWITCH, "red", "prod", "hand"), NULL);
    assert_int_equal(plan_destroy(&s, &srv, &p, err, sizeof err), 0);
    assert_string_equal(summary(&p),
                        "-vm red/prod/web,-link red/prod/back--front,-switch red/prod/old,"
                        "-switch red/prod/back,-switch red/prod/front,-host h1,-cloud c1");
    assert_true(has_note(&p, "network red/prod: kept, it still has 1 switches"));
    assert_true(has_note(&p, "tenant red: kept, it still has 1 networks"));
    plan_uninit(&p);
    spec_uninit(&old);
    model_set_uninit(&srv);
    serve_all(&srv, &s, "t");
    serve(&srv, &other.objs.v[0], NULL);

    /* A host still holding VMs of tenants this file does not know stays,
     * and with it its cloud. */
    json_object_set_new(srv_obj(&srv, MK_HOST, NULL, NULL, "h1")->body, "vm_count",
                        json_integer(3));
    assert_int_equal(plan_destroy(&s, &srv, &p, err, sizeof err), 0);
    assert_string_equal(summary(&p),
                        "-vm red/prod/web,-link red/prod/back--front,-switch red/prod/back,"
                        "-switch red/prod/front,-network red/prod,-tenant red");
    plan_uninit(&p);
    model_set_uninit(&srv);
    spec_uninit(&other);
    spec_uninit(&s);
}

static void
test_same_value(void **state)
{
    (void) state;
    struct {
        enum model_kind kind;
        const char *field, *a, *b;
        bool same;
    } cases[] = {
        {MK_VM, "mac", "\"02:00:00:00:00:0A\"", "\"02-00-00-00-00-0a\"", true},
        {MK_VM, "mac", "\"02:00:00:00:00:0A\"", "\"02:00:00:00:00:0b\"", false},
        {MK_HOST, "tunnel_ip", "\"1.2.3.4\"", "\"1.2.3.4\"", true},
        {MK_HOST, "bridge", "\"BR\"", "\"br\"", false},
        {MK_CLOUD, "cost_per_hour", "\"0.1\"", "\"0.100000\"", true},
        {MK_CLOUD, "cost_per_hour", "\"0.1\"", "\"0.2\"", false},
        {MK_CLOUD, "region", "\"0.1\"", "\"0.100\"", false},
        {MK_CLOUDLINK, "cost", "3", "3.0", true},
        {MK_CLOUDLINK, "cost", "3", "3.5", false},
        {MK_VM, "placement", "{\"host\": \"a\"}", "{\"host\": \"a\"}", true},
        {MK_VM, "placement", "{\"host\": \"a\"}", "{\"cloud\": \"a\"}", false},
        {MK_VM, "iface", "null", "null", true},
        {MK_VM, "iface", "\"x\"", "null", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *a = json_loads(cases[i].a, JSON_DECODE_ANY, NULL);
        json_t *b = json_loads(cases[i].b, JSON_DECODE_ANY, NULL);
        assert_non_null(a);
        assert_non_null(b);
        if (plan_same_value(cases[i].kind, cases[i].field, a, b) != cases[i].same) {
            fail_msg("case %zu: %s vs %s", i, cases[i].a, cases[i].b);
        }
        json_decref(a);
        json_decref(b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_and_json_agree),
        cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_empty_server_creates_in_order),
        cmocka_unit_test(test_same_state_plans_nothing),
        cmocka_unit_test(test_changed_fields_are_patched),
        cmocka_unit_test(test_unmanaged_objects_are_updated_not_marked),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_prune_order_around_moves),
        cmocka_unit_test(test_replacements),
        cmocka_unit_test(test_destroy),
        cmocka_unit_test(test_same_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
