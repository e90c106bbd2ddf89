/* vflow.c: see vflow.h.  Pure functions: no I/O, no allocation. */
#include "ctrl/vflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/packet.h"
#define OXM_CLASS_BASIC 0x8000
#define OXM_FIELD_IN_PHY_PORT 1

bool
vflow_port_exists(const struct vflow_ports *ports, uint32_t port_no)
{
    size_t lo = 0, hi = ports->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ports->no[mid] == port_no) {
            return true;
        }
        if (ports->no[mid] < port_no) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* An opaque TLV's bytes and length. */
static const uint8_t *
opaque_tlv(const struct ofmatch *m, unsigned int idx, size_t *len)
{
    const uint8_t *p = m->opaque + m->opaque_off[idx];
    *len = 4 + (size_t) p[3];
    return p;
}

static enum oferr
check_match(const struct ofmatch *m, const struct vflow_ports *ports)
{
    uint64_t v;
    if (ofmatch_get(m, MF_METADATA, NULL, NULL) || ofmatch_get(m, MF_TUNNEL_ID, NULL, NULL)) {
        return OFERR_BAD_MATCH_BAD_FIELD;
    }
    for (unsigned int i = 0; i < m->n_opaque; i++) {
        size_t len;
        const uint8_t *p = opaque_tlv(m, i, &len);
        if (get_be16(p) != OXM_CLASS_BASIC || p[2] >> 1 == OXM_FIELD_IN_PHY_PORT) {
            return OFERR_BAD_MATCH_BAD_FIELD;
        }
        for (unsigned int k = 0; k < i; k++) {
            size_t klen;
            if (opaque_tlv(m, k, &klen)[2] >> 1 == p[2] >> 1) {
                return OFERR_BAD_MATCH_DUP_FIELD;
            }
        }
    }
    if (ofmatch_get(m, MF_IN_PORT, &v, NULL) && !vflow_port_exists(ports, (uint32_t) v)) {
        return OFERR_BAD_MATCH_BAD_VALUE;
    }
    return OFERR_NONE;
}

/* Output ports a tenant may name: its own, and the reserved ports that
 * stay inside its switch.  'packet_out' also admits TABLE. */
static bool
output_ok(uint32_t port, const struct vflow_ports *ports, bool packet_out)
{
    switch (port) {
    case OFPP_IN_PORT:
    case OFPP_FLOOD:
    case OFPP_ALL:
    case OFPP_CONTROLLER:
        return true;
    case OFPP_TABLE:
        return packet_out;
    default:
        return port < OFPP_MAX && vflow_port_exists(ports, port);
    }
}

static enum oferr
check_actions(const struct ofaction *a, size_t n, const struct vflow_ports *ports,
              bool packet_out)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].raw) {
            return OFERR_BAD_ACTION_BAD_TYPE;
        }
        switch (a[i].type) {
        case OFPAT_OUTPUT:
            if (!output_ok(a[i].u.output.port, ports, packet_out)) {
                return OFERR_BAD_ACTION_BAD_OUT_PORT;
            }
            break;
        case OFPAT_GROUP:
            return OFERR_BAD_ACTION_BAD_OUT_GROUP;
        case OFPAT_SET_QUEUE:
            return OFERR_BAD_ACTION_BAD_QUEUE;
        case OFPAT_SET_FIELD:
            switch (a[i].u.set_field.field) {
            case MF_ETH_SRC:
            case MF_ETH_DST:
            case MF_METADATA:
            case MF_TUNNEL_ID:
            case MF_IN_PORT:
                return OFERR_BAD_ACTION_BAD_SET_TYPE;
            default:
                break;
            }
            break;
        case OFPAT_PUSH_VLAN:
        case OFPAT_POP_VLAN:
            break;
        default:
            return OFERR_BAD_ACTION_BAD_TYPE;
        }
    }
    return OFERR_NONE;
}

enum oferr
vflow_check(const struct ofmsg_flow_mod *fm, const struct vflow_ports *ports)
{
    bool deleting = fm->command == OFPFC_DELETE || fm->command == OFPFC_DELETE_STRICT;
    if (fm->command > OFPFC_DELETE_STRICT) {
        return OFERR_FLOW_MOD_FAILED_BAD_COMMAND;
    }
    if (fm->table_id >= VFLOW_N_TABLES && !(deleting && fm->table_id == OFPTT_ALL)) {
        return OFERR_FLOW_MOD_FAILED_BAD_TABLE_ID;
    }
    if (!deleting && fm->buffer_id != OFP_NO_BUFFER) {
        return OFERR_BAD_REQUEST_BUFFER_UNKNOWN;
    }
    enum oferr e = check_match(&fm->match, ports);
    if (e != OFERR_NONE || deleting) {
        return e;
    }
    for (size_t i = 0; i < fm->n_insts; i++) {
        const struct ofinst *in = &fm->insts[i];
        if (in->raw) {
            return OFERR_BAD_INSTRUCTION_UNSUP_INST;
        }
        switch (in->type) {
        case OFPIT_GOTO_TABLE:
            if (in->table_id <= fm->table_id || in->table_id >= VFLOW_N_TABLES) {
                return OFERR_BAD_INSTRUCTION_BAD_TABLE_ID;
            }
            break;
        case OFPIT_WRITE_METADATA:
            return OFERR_BAD_INSTRUCTION_UNSUP_METADATA;
        case OFPIT_WRITE_ACTIONS:
        case OFPIT_APPLY_ACTIONS:
            if ((e = check_actions(in->actions, in->n_actions, ports, false)) != OFERR_NONE) {
                return e;
            }
            break;
        case OFPIT_CLEAR_ACTIONS:
            break;
        default:
            return OFERR_BAD_INSTRUCTION_UNSUP_INST;
        }
    }
    return OFERR_NONE;
}

enum oferr
vflow_check_packet_out(const struct ofmsg_packet_out *po, const struct vflow_ports *ports)
{
    if (po->buffer_id != OFP_NO_BUFFER) {
        return OFERR_BAD_REQUEST_BUFFER_UNKNOWN;
    }
    if (po->in_port != OFPP_CONTROLLER && po->in_port != OFPP_ANY
        && !vflow_port_exists(ports, po->in_port)) {
        return OFERR_BAD_REQUEST_BAD_PORT;
    }
    return check_actions(po->actions, po->n_actions, ports, true);
}

/* Orders opaque TLVs by their bytes (shorter first on a common prefix). */
static int
tlv_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

void
vflow_match_canon(const struct ofmatch *in, struct ofmatch *out)
{
    ofmatch_init(out);
    for (int f = 0; f < MF__COUNT; f++) {
        uint64_t v, m;
        if (ofmatch_get(in, (enum mf) f, &v, &m)) {
            if (in->masked & (1u << f)) {
                ofmatch_set_masked(out, (enum mf) f, v, m);
            } else {
                ofmatch_set(out, (enum mf) f, v);
            }
        }
    }
    /* Selection sort of the opaque TLVs: there are few. */
    bool used[OFMATCH_MAX_ITEMS] = {false};
    for (unsigned int k = 0; k < in->n_opaque; k++) {
        int best = -1;
        size_t best_len = 0;
        const uint8_t *best_p = NULL;
        for (unsigned int i = 0; i < in->n_opaque; i++) {
            size_t len;
            const uint8_t *p = opaque_tlv(in, i, &len);
            if (!used[i] && (best < 0 || tlv_cmp(p, len, best_p, best_len) < 0)) {
                best = (int) i;
                best_p = p;
                best_len = len;
            }
        }
        used[best] = true;
        if (out->n < OFMATCH_MAX_ITEMS
            && out->opaque_len + best_len <= OFMATCH_OPAQUE_MAX) {
            out->opaque_off[out->n_opaque] = out->opaque_len;
            memcpy(out->opaque + out->opaque_len, best_p, best_len);
            out->opaque_len = (uint16_t) (out->opaque_len + best_len);
            out->order[out->n++] = (uint8_t) (0x80 + out->n_opaque++);
        }
    }
}

bool
vflow_match_covers(const struct ofmatch *req, const struct ofmatch *flow)
{
    for (int f = 0; f < MF__COUNT; f++) {
        uint64_t rv, rm, fv, fm;
        if (!ofmatch_get(req, (enum mf) f, &rv, &rm)) {
            continue;
        }
        if (!ofmatch_get(flow, (enum mf) f, &fv, &fm) || (fm & rm) != rm
            || (fv & rm) != (rv & rm)) {
            return false;
        }
    }
    for (unsigned int i = 0; i < req->n_opaque; i++) {
        size_t rlen;
        const uint8_t *rp = opaque_tlv(req, i, &rlen);
        bool found = false;
        for (unsigned int j = 0; j < flow->n_opaque && !found; j++) {
            size_t flen;
            const uint8_t *fp = opaque_tlv(flow, j, &flen);
            found = flen == rlen && !memcmp(fp, rp, rlen);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

bool
vflow_match_overlaps(const struct ofmatch *a, const struct ofmatch *b)
{
    for (int f = 0; f < MF__COUNT; f++) {
        uint64_t av, am, bv, bm;
        if (ofmatch_get(a, (enum mf) f, &av, &am) && ofmatch_get(b, (enum mf) f, &bv, &bm)
            && (av & am & bm) != (bv & am & bm)) {
            return false;
        }
    }
    for (unsigned int i = 0; i < a->n_opaque; i++) {
        size_t alen;
        const uint8_t *ap = opaque_tlv(a, i, &alen);
        for (unsigned int j = 0; j < b->n_opaque; j++) {
            size_t blen;
            const uint8_t *bp = opaque_tlv(b, j, &blen);
            /* Same class and field, both exact, different values. */
            if (!memcmp(ap, bp, 3) && !(ap[2] & 1) && alen == blen
                && memcmp(ap, bp, alen)) {
                return false;
            }
        }
    }
    return true;
}

bool
vflow_outputs_to(const struct ofinst *insts, size_t n, uint32_t port)
{
    if (port == OFPP_ANY) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < insts[i].n_actions; k++) {
            const struct ofaction *a = &insts[i].actions[k];
            if (!a->raw && a->type == OFPAT_OUTPUT && a->u.output.port == port) {
                return true;
            }
        }
    }
    return false;
}

uint64_t
vflow_datapath_id(uint16_t tenant_tag, uint64_t switch_seq)
{
    return 0x5bULL << 56 | (uint64_t) tenant_tag << 32 | (switch_seq & 0xffffffffu);
}

void
vflow_port_name(const char *base, bool link, uint32_t port_no, char out[16])
{
    char full[96];
    snprintf(full, sizeof full, "%s%s", link ? "to-" : "", base);
    if (strlen(full) <= 15) {
        memcpy(out, full, strlen(full) + 1);
        return;
    }
    char tail[16];
    int t = snprintf(tail, sizeof tail, "~%u", port_no);
    size_t keep = 15 - (size_t) t;
    memcpy(out, full, keep);
    memcpy(out + keep, tail, (size_t) t + 1);
}

static uint64_t
be_bytes(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Appends an exact OXM_OF_BASIC field the codec does not model to 'key'
 * (as opaque bytes, which is how a flow naming it holds it). */
static void
key_opaque(struct ofmatch *key, uint8_t oxm_field, uint64_t value, unsigned int nbytes)
{
    if (key->n >= OFMATCH_MAX_ITEMS || key->opaque_len + 4 + nbytes > OFMATCH_OPAQUE_MAX) {
        return;
    }
    uint8_t *p = key->opaque + key->opaque_len;
    p[0] = OXM_CLASS_BASIC >> 8;
    p[1] = OXM_CLASS_BASIC & 0xff;
    p[2] = (uint8_t) (oxm_field << 1);
    p[3] = (uint8_t) nbytes;
    for (unsigned int i = 0; i < nbytes; i++) {
        p[4 + i] = (uint8_t) (value >> (8 * (nbytes - 1 - i)));
    }
    key->opaque_off[key->n_opaque] = key->opaque_len;
    key->opaque_len = (uint16_t) (key->opaque_len + 4 + nbytes);
    key->order[key->n++] = (uint8_t) (0x80 + key->n_opaque++);
}

void
vflow_packet_key(const uint8_t *pkt, size_t len, uint32_t in_port, struct ofmatch *key)
{
    ofmatch_init(key);
    ofmatch_set(key, MF_IN_PORT, in_port);
    if (len < 14) {
        return;
    }
    ofmatch_set(key, MF_ETH_DST, be_bytes(pkt, 6));
    ofmatch_set(key, MF_ETH_SRC, be_bytes(pkt + 6, 6));
    size_t off = 12;
    uint16_t type = (uint16_t) be_bytes(pkt + off, 2);
    if (type == ETH_TYPE_VLAN && len >= 18) {
        ofmatch_set(key, MF_VLAN_VID, OFPVID_PRESENT | (be_bytes(pkt + 14, 2) & 0xfff));
        key_opaque(key, 7, pkt[14] >> 5, 1);                        /* vlan_pcp */
        off = 16;
        type = (uint16_t) be_bytes(pkt + off, 2);
    } else {
        ofmatch_set(key, MF_VLAN_VID, 0);
    }
    ofmatch_set(key, MF_ETH_TYPE, type);
    const uint8_t *l3 = pkt + off + 2;
    size_t l3len = len - off - 2;
    if (type == ETH_TYPE_ARP && l3len >= 28) {
        ofmatch_set(key, MF_ARP_OP, be_bytes(l3 + 6, 2));
        ofmatch_set(key, MF_ARP_SHA, be_bytes(l3 + 8, 6));
        ofmatch_set(key, MF_ARP_SPA, be_bytes(l3 + 14, 4));
        ofmatch_set(key, MF_ARP_THA, be_bytes(l3 + 18, 6));
        ofmatch_set(key, MF_ARP_TPA, be_bytes(l3 + 24, 4));
    } else if (type == ETH_TYPE_IP && l3len >= 20 && (l3[0] >> 4) == 4) {
        size_t ihl = (size_t) (l3[0] & 0xf) * 4;
        uint8_t proto = l3[9];
        ofmatch_set(key, MF_IP_PROTO, proto);
        ofmatch_set(key, MF_IPV4_SRC, be_bytes(l3 + 12, 4));
        ofmatch_set(key, MF_IPV4_DST, be_bytes(l3 + 16, 4));
        key_opaque(key, 8, l3[1] >> 2, 1);                          /* ip_dscp */
        key_opaque(key, 9, l3[1] & 3, 1);                           /* ip_ecn */
        bool first_fragment = (be_bytes(l3 + 6, 2) & 0x1fff) == 0;
        if (ihl >= 20 && l3len >= ihl + 4 && first_fragment) {
            uint64_t sport = be_bytes(l3 + ihl, 2), dport = be_bytes(l3 + ihl + 2, 2);
            if (proto == IP_PROTO_TCP) {
                ofmatch_set(key, MF_TCP_SRC, sport);
                ofmatch_set(key, MF_TCP_DST, dport);
            } else if (proto == IP_PROTO_UDP) {
                ofmatch_set(key, MF_UDP_SRC, sport);
                ofmatch_set(key, MF_UDP_DST, dport);
            } else if (proto == IP_PROTO_ICMP) {
                key_opaque(key, 19, l3[ihl], 1);                    /* icmpv4_type */
                key_opaque(key, 20, l3[ihl + 1], 1);                /* icmpv4_code */
            }
        }
    }
}

bool
vflow_match_packet(const struct ofmatch *flow, const struct ofmatch *key)
{
    return vflow_match_covers(flow, key);
}
