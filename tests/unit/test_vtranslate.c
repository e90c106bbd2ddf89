/* test_vtranslate.c: a tenant controller's flows compiled into the bridges
 * (ctrl/vtranslate.h), on the shared model of nm_world.h with red's front
 * and back switches under tenant controllers: web on front (aws-fra-h1),
 * db and batch on back (onprem-lis-h1, gcp-iowa-h1), front--back linked.
 *
 * Virtual ports: front: web 1, the link 2; back: db 1, batch 2, the link
 * 3.  What each test checks is named in it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ctlset.h"
#include "ctrl/buf.h"
#include "ctrl/vtranslate.h"
#include "nm_world.h"

#define FRONT 0
#define BACK 1
#define SEQ_FRONT 11u
#define SEQ_BACK 12u
#define META_HIGH 0xffffffff00000000ull

/* --- building the stored flows --- */

static void
put_flow(struct ctl_switch *sw, uint8_t table, uint16_t prio, const struct ofmatch *m,
         const struct ofinst *insts, size_t n)
{
    struct buf bm, bi;
    buf_init(&bm);
    buf_init(&bi);
    ofmatch_encode(m, &bm);
    ofaction_encode_insts(insts, n, &bi);
    sw->flows = realloc(sw->flows, (sw->n_flows + 1) * sizeof *sw->flows);
    struct ctl_flow *f = &sw->flows[sw->n_flows++];
    *f = (struct ctl_flow) {
        .id = (long long) sw->n_flows, .table = table, .priority = prio,
        .match = malloc(bm.len), .match_len = bm.len,
        .insts = malloc(bi.len ? bi.len : 1), .insts_len = bi.len,
    };
    memcpy(f->match, bm.data, bm.len);
    if (bi.len) {
        memcpy(f->insts, bi.data, bi.len);
    }
    buf_uninit(&bm);
    buf_uninit(&bi);
}

static struct ofinst
apply_output(uint32_t port)
{
    struct ofinst in = { .type = OFPIT_APPLY_ACTIONS, .n_actions = 1 };
    in.actions = calloc(1, sizeof *in.actions);
    in.actions[0].type = OFPAT_OUTPUT;
    in.actions[0].u.output.port = port;
    in.actions[0].u.output.max_len = OFPCML_NO_BUFFER;
    return in;
}

static void
port(struct ctl_switch *sw, const char *id, uint32_t no, bool link)
{
    sw->ports = realloc(sw->ports, (sw->n_ports + 1) * sizeof *sw->ports);
    struct ctl_port *p = &sw->ports[sw->n_ports++];
    memset(p, 0, sizeof *p);
    snprintf(p->object_id, sizeof p->object_id, "%s", id);
    p->port_no = no;
    p->link = link;
}

/* The world, front and back controlled, with these flows:
 *   front t0 p0   (any)            -> CONTROLLER
 *   front t0 p10  in_port=1        -> the link (port 2)
 *   front t1 p5   eth_type=IPv4    -> FLOOD            (punted: linked)
 *   back  t0 p7   in_port=2        -> db (port 1), goto 1
 *   back  t0 p8   in_port=1        -> write-actions     (punted) */
static void
world(struct netmodel *m)
{
    build(m, TUNNELS_MST);
    m->switches[FRONT].tenant_ctl = m->switches[BACK].tenant_ctl = true;
    struct ctlset *s = ctlset_create();
    s->n = 2;
    s->sw = calloc(2, sizeof *s->sw);
    struct ctl_switch *front = &s->sw[0], *back = &s->sw[1];
    snprintf(front->id, sizeof front->id, "%s", m->switches[FRONT].o.id);
    snprintf(back->id, sizeof back->id, "%s", m->switches[BACK].o.id);
    port(front, m->vms[RED_WEB].o.id, 1, false);
    port(front, m->links[0].o.id, 2, true);
    port(back, m->vms[RED_DB].o.id, 1, false);
    port(back, m->vms[RED_BATCH].o.id, 2, false);
    port(back, m->links[0].o.id, 3, true);

    struct ofmatch any, in1, ip, in2;
    ofmatch_init(&any);
    ofmatch_init(&in1);
    ofmatch_set(&in1, MF_IN_PORT, 1);
    ofmatch_init(&ip);
    ofmatch_set(&ip, MF_ETH_TYPE, 0x0800);
    ofmatch_init(&in2);
    ofmatch_set(&in2, MF_IN_PORT, 2);
    struct ofinst in[2];
    in[0] = apply_output(OFPP_CONTROLLER);
    put_flow(front, 0, 0, &any, in, 1);
    free(in[0].actions);
    in[0] = apply_output(2);
    put_flow(front, 0, 10, &in1, in, 1);
    free(in[0].actions);
    in[0] = apply_output(OFPP_FLOOD);
    put_flow(front, 1, 5, &ip, in, 1);
    free(in[0].actions);
    in[0] = apply_output(1);
    in[1] = (struct ofinst) { .type = OFPIT_GOTO_TABLE, .table_id = 1 };
    put_flow(back, 0, 7, &in2, in, 2);
    in[0].type = OFPIT_WRITE_ACTIONS;
    put_flow(back, 0, 8, &in1, in, 1);
    free(in[0].actions);
    assert_true(ctlset_finish(s));
    m->ctl = s;
}

/* --- what a host gets --- */

struct got {
    struct ofmsg_flow_mod fm[16];   /* shallow: match copied, insts encoded */
    struct buf insts[16];
    size_t n;
};

static int
collect(void *aux, const struct ofmsg *msg)
{
    struct got *g = aux;
    assert_true(g->n < 16);
    g->fm[g->n] = msg->u.flow_mod;
    g->fm[g->n].insts = NULL;
    buf_init(&g->insts[g->n]);
    ofaction_encode_insts(msg->u.flow_mod.insts, msg->u.flow_mod.n_insts,
                          &g->insts[g->n]);
    /* Decoded back for the checks. */
    struct pull pl;
    pull_init(&pl, g->insts[g->n].data, g->insts[g->n].len);
    assert_int_equal(ofaction_decode_insts(&pl, g->insts[g->n].len, &g->fm[g->n].insts,
                                           &g->fm[g->n].n_insts), OFERR_NONE);
    g->n++;
    return 0;
}

static void
got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        ofaction_free_insts(g->fm[i].insts, g->fm[i].n_insts);
        buf_uninit(&g->insts[i]);
    }
}

static const struct ofmsg_flow_mod *
find(const struct got *g, uint8_t table, uint16_t prio)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->fm[i].table_id == table && g->fm[i].priority == prio) {
            return &g->fm[i];
        }
    }
    fail_msg("no flow of table %u priority %u", table, prio);
    return NULL;
}

/* The nested actions of an Open vSwitch clone action 'a'. */
static void
clone_body(const struct ofaction *a, struct ofaction **inner, size_t *n)
{
    assert_int_equal(a->type, 0xffff);
    assert_true(a->raw_len > 16);
    assert_int_equal(a->raw[8] << 8 | a->raw[9], 42);   /* NXAST_CLONE */
    struct pull pl;
    pull_init(&pl, a->raw + 16, a->raw_len - 16);
    assert_int_equal(ofaction_decode_list(&pl, a->raw_len - 16, inner, n), OFERR_NONE);
}

static void
test_each_switch_where_its_vms_send(void **state)
{
    (void) state;
    struct netmodel m;
    world(&m);
    size_t want[N_HOSTS] = {[A_H1] = 3, [B_H1] = 2, [C_H1] = 2};
    for (int h = 0; h < N_HOSTS; h++) {
        struct got g = {0};
        assert_int_equal(vtranslate_host(&m, h, NULL, 0, collect, &g), 0);
        assert_int_equal(g.n, want[h]);
        got_free(&g);
    }
    /* Only the switches asked for. */
    int only_back = BACK;
    struct got g = {0};
    assert_int_equal(vtranslate_host(&m, A_H1, &only_back, 1, collect, &g), 0);
    assert_int_equal(g.n, 0);
    netmodel_free(&m);
}

static void
test_match_names_the_switch_and_in_port_moves_to_metadata(void **state)
{
    (void) state;
    struct netmodel m;
    world(&m);
    struct got g = {0};
    assert_int_equal(vtranslate_host(&m, A_H1, NULL, 0, collect, &g), 0);
    uint64_t v, mask;
    const struct ofmsg_flow_mod *any = find(&g, NM_T_VTENANT, 0);
    assert_true(ofmatch_get(&any->match, MF_METADATA, &v, &mask));
    assert_int_equal(v, (uint64_t) SEQ_FRONT << 32);
    assert_int_equal(mask, META_HIGH);
    assert_int_equal(any->cookie, netmodel_vsw_cookie(&m, FRONT));
    const struct ofmsg_flow_mod *in1 = find(&g, NM_T_VTENANT, 10);
    assert_false(ofmatch_get(&in1->match, MF_IN_PORT, &v, &mask));
    assert_true(ofmatch_get(&in1->match, MF_METADATA, &v, &mask));
    assert_int_equal(v, (uint64_t) SEQ_FRONT << 32 | 1);
    assert_int_equal(mask, UINT64_MAX);
    /* And back: the virtual key of the physical flow. */
    uint8_t vt;
    uint32_t seq;
    struct ofmatch vm;
    assert_true(vtranslate_virtual_key(in1->table_id, &in1->match, &vt, &vm, &seq));
    assert_int_equal(vt, 0);
    assert_int_equal(seq, SEQ_FRONT);
    assert_true(ofmatch_get(&vm, MF_IN_PORT, &v, &mask));
    assert_int_equal(v, 1);
    assert_false(ofmatch_get(&vm, MF_METADATA, &v, &mask));
    assert_false(vtranslate_virtual_key(NM_T_FORWARD, &in1->match, &vt, &vm, &seq));
    /* The controller's output stays one. */
    assert_int_equal(any->n_insts, 1);
    assert_int_equal(any->insts[0].actions[0].u.output.port, OFPP_CONTROLLER);
    got_free(&g);
    netmodel_free(&m);
}

static void
test_outputs_to_a_link_and_a_vm(void **state)
{
    (void) state;
    struct netmodel m;
    world(&m);
    /* front's output to the link enters back's table 0 on port 3. */
    struct got g = {0};
    assert_int_equal(vtranslate_host(&m, A_H1, NULL, 0, collect, &g), 0);
    const struct ofmsg_flow_mod *fl = find(&g, NM_T_VTENANT, 10);
    assert_int_equal(fl->insts[0].n_actions, 1);
    struct ofaction *inner;
    size_t n;
    clone_body(&fl->insts[0].actions[0], &inner, &n);
    assert_int_equal(n, 2);
    assert_int_equal(inner[0].type, OFPAT_SET_FIELD);
    assert_int_equal(inner[0].u.set_field.field, MF_METADATA);
    assert_int_equal(inner[0].u.set_field.value, (uint64_t) SEQ_BACK << 32 | 3);
    assert_int_equal(inner[1].raw[12], NM_T_VTENANT);   /* resubmit(,60) */
    ofaction_free_list(inner, n);
    got_free(&g);
    /* back's output to db goes to db's platform MAC through the source
     * tag table, then on to table 61. */
    memset(&g, 0, sizeof g);
    assert_int_equal(vtranslate_host(&m, B_H1, NULL, 0, collect, &g), 0);
    fl = find(&g, NM_T_VTENANT, 7);
    assert_int_equal(fl->n_insts, 2);
    clone_body(&fl->insts[0].actions[0], &inner, &n);
    assert_int_equal(inner[0].u.set_field.field, MF_ETH_DST);
    assert_int_equal(inner[0].u.set_field.value, netmodel_wire_mac(&m, RED_DB));
    assert_int_equal(inner[1].raw[12], NM_T_SRC_TAG);
    ofaction_free_list(inner, n);
    assert_int_equal(fl->insts[1].type, OFPIT_GOTO_TABLE);
    assert_int_equal(fl->insts[1].table_id, NM_T_VTENANT + 1);
    got_free(&g);
    netmodel_free(&m);
}

static void
test_in_dual_an_output_reaches_both_places(void **state)
{
    (void) state;
    struct netmodel m;
    world(&m);
    m.vms[RED_DB].mig = NM_MIG_DUAL;
    m.vms[RED_DB].mig_from = C_H1;
    m.vms[RED_DB].mig_to = B_H1;
    m.vms[RED_DB].alt_low = 0x77;
    struct got g = {0};
    assert_int_equal(vtranslate_host(&m, B_H1, NULL, 0, collect, &g), 0);
    const struct ofmsg_flow_mod *fl = find(&g, NM_T_VTENANT, 7);
    assert_int_equal(fl->insts[0].n_actions, 2);
    uint64_t macs[2];
    for (size_t i = 0; i < 2; i++) {
        struct ofaction *inner;
        size_t n;
        clone_body(&fl->insts[0].actions[i], &inner, &n);
        macs[i] = inner[0].u.set_field.value;
        ofaction_free_list(inner, n);
    }
    assert_int_equal(macs[0], netmodel_alt_mac(&m, RED_DB));
    assert_int_equal(macs[1], netmodel_wire_mac(&m, RED_DB));
    got_free(&g);
    netmodel_free(&m);
}

static void
test_what_the_datapath_cannot_run_is_punted(void **state)
{
    (void) state;
    struct netmodel m;
    world(&m);
    struct got g = {0};
    assert_int_equal(vtranslate_host(&m, A_H1, NULL, 0, collect, &g), 0);
    /* FLOOD on a switch linked to another controlled one, in_port open. */
    const struct ofmsg_flow_mod *fl = find(&g, NM_T_VTENANT + 1, 5);
    assert_int_equal(fl->cookie, netmodel_vsw_cookie(&m, FRONT) | VT_COOKIE_PUNT);
    assert_int_equal(fl->n_insts, 1);
    assert_int_equal(fl->insts[0].n_actions, 1);
    assert_int_equal(fl->insts[0].actions[0].u.output.port, OFPP_CONTROLLER);
    got_free(&g);
    memset(&g, 0, sizeof g);
    assert_int_equal(vtranslate_host(&m, C_H1, NULL, 0, collect, &g), 0);
    fl = find(&g, NM_T_VTENANT, 8);                     /* write-actions */
    assert_int_equal(fl->cookie, netmodel_vsw_cookie(&m, BACK) | VT_COOKIE_PUNT);
    got_free(&g);
    netmodel_free(&m);
}

static void
test_port_security_enters_the_tenant_tables(void **state)
{
    (void) state;
    struct netmodel m;
    world(&m);
    struct nm_flows f = {0};
    assert_int_equal(netmodel_flows(&m, A_H1, ofport_of, NULL, &f), 0);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        const struct nm_flow *x = &f.v[i];
        if (x->table == NM_T_CLASSIFY && x->cookie == netmodel_vm_cookie(&m, RED_WEB)
            && x->priority == 100) {
            /* IPv4 and ARP alike: metadata = front's seq and web's port. */
            assert_int_equal(x->goto_table, NM_T_VTENANT);
            assert_true(x->write_meta);
            assert_int_equal(x->meta, (uint64_t) SEQ_FRONT << 32 | 1);
            assert_int_equal(x->meta_mask, UINT64_MAX);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    nm_flows_clear(&f);
    netmodel_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_switch_where_its_vms_send),
        cmocka_unit_test(test_match_names_the_switch_and_in_port_moves_to_metadata),
        cmocka_unit_test(test_outputs_to_a_link_and_a_vm),
        cmocka_unit_test(test_in_dual_an_output_reaches_both_places),
        cmocka_unit_test(test_what_the_datapath_cannot_run_is_punted),
        cmocka_unit_test(test_port_security_enters_the_tenant_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
