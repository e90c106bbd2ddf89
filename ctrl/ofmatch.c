/* ofmatch.c: OpenFlow 1.3 matches (struct ofp_match with OXM TLVs).
 *
 * Wire form: type (1 = OXM), length (header + TLVs, without padding), the
 * TLVs, zero padding to a multiple of 8.  A TLV is a 32-bit header (class,
 * field, has-mask bit, payload length) and the value, then the mask when
 * has-mask is set.  Decoding checks every length against the field's size,
 * rejects masks on unmaskable fields, duplicate fields and missing
 * prerequisites (an IPv4 field without eth_type 0x0800, ...).  Fields this
 * codec does not model are kept verbatim (see ofmsg.h). */
#include <string.h>

#include "core/packet.h"
#include "ctrl/ofmsg.h"

#define OXM_CLASS_BASIC 0x8000
#define OFPMT_OXM 1

static const struct {
    const char *name;
    uint8_t oxm_field;
    uint8_t len;
    bool maskable;
} fields[MF__COUNT] = {
    [MF_IN_PORT] = {"in_port", 0, 4, false},
    [MF_ETH_DST] = {"eth_dst", 3, 6, true},
    [MF_ETH_SRC] = {"eth_src", 4, 6, true},
    [MF_ETH_TYPE] = {"eth_type", 5, 2, false},
    [MF_VLAN_VID] = {"vlan_vid", 6, 2, true},
    [MF_IP_PROTO] = {"ip_proto", 10, 1, false},
    [MF_IPV4_SRC] = {"ipv4_src", 11, 4, true},
    [MF_IPV4_DST] = {"ipv4_dst", 12, 4, true},
    [MF_TCP_SRC] = {"tcp_src", 13, 2, false},
    [MF_TCP_DST] = {"tcp_dst", 14, 2, false},
    [MF_UDP_SRC] = {"udp_src", 15, 2, false},
    [MF_UDP_DST] = {"udp_dst", 16, 2, false},
    [MF_ARP_OP] = {"arp_op", 21, 2, false},
    [MF_ARP_SPA] = {"arp_spa", 22, 4, true},
    [MF_ARP_TPA] = {"arp_tpa", 23, 4, true},
    [MF_ARP_SHA] = {"arp_sha", 24, 6, true},
    [MF_ARP_THA] = {"arp_tha", 25, 6, true},
    [MF_TUNNEL_ID] = {"tunnel_id", 38, 8, true},
    [MF_METADATA] = {"metadata", 2, 8, true},
};

const char *
ofmatch_field_name(enum mf f)
{
    return (unsigned int) f < MF__COUNT ? fields[f].name : "?";
}

unsigned int
ofmatch_field_len(enum mf f)
{
    return (unsigned int) f < MF__COUNT ? fields[f].len : 0;
}

void
ofmatch_init(struct ofmatch *m)
{
    memset(m, 0, sizeof *m);
}

static bool
has_field(const struct ofmatch *m, enum mf f)
{
    for (unsigned int i = 0; i < m->n; i++) {
        if (m->order[i] == f) {
            return true;
        }
    }
    return false;
}

static uint64_t
all_ones(enum mf f)
{
    return fields[f].len == 8 ? UINT64_MAX : (1ULL << (8 * fields[f].len)) - 1;
}

void
ofmatch_set(struct ofmatch *m, enum mf f, uint64_t value)
{
    if (!has_field(m, f) && m->n < OFMATCH_MAX_ITEMS) {
        m->order[m->n++] = (uint8_t) f;
    }
    m->value[f] = value & all_ones(f);
    m->mask[f] = all_ones(f);
    m->masked &= ~(1u << f);
}

bool
ofmatch_set_masked(struct ofmatch *m, enum mf f, uint64_t value, uint64_t mask)
{
    if (!fields[f].maskable) {
        return false;
    }
    ofmatch_set(m, f, value & mask);
    m->mask[f] = mask & all_ones(f);
    m->masked |= 1u << f;
    return true;
}

bool
ofmatch_get(const struct ofmatch *m, enum mf f, uint64_t *value, uint64_t *mask)
{
    if (!has_field(m, f)) {
        return false;
    }
    if (value) {
        *value = m->value[f];
    }
    if (mask) {
        *mask = m->mask[f];
    }
    return true;
}

bool
ofmatch_equal(const struct ofmatch *a, const struct ofmatch *b)
{
    if (a->n != b->n || a->masked != b->masked || a->opaque_len != b->opaque_len
        || memcmp(a->opaque, b->opaque, a->opaque_len)) {
        return false;
    }
    for (unsigned int i = 0; i < a->n; i++) {
        uint8_t f = a->order[i];
        if (f >= MF__COUNT) {
            continue;
        }
        if (!has_field(b, f) || a->value[f] != b->value[f] || a->mask[f] != b->mask[f]) {
            return false;
        }
    }
    return true;
}

static uint64_t
get_be(const uint8_t *p, unsigned int len)
{
    uint64_t v = 0;
    for (unsigned int i = 0; i < len; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void
put_be(struct buf *b, uint64_t v, unsigned int len)
{
    uint8_t *p = buf_put_zeros(b, len);
    for (unsigned int i = 0; p && i < len; i++) {
        p[len - 1 - i] = (uint8_t) (v >> (8 * i));
    }
}

static int
field_by_oxm(uint8_t oxm_field)
{
    for (int f = 0; f < MF__COUNT; f++) {
        if (fields[f].oxm_field == oxm_field) {
            return f;
        }
    }
    return -1;
}

enum mf
ofmatch_field_from_oxm(uint32_t hdr)
{
    int f = (hdr >> 16) == OXM_CLASS_BASIC ? field_by_oxm((uint8_t) ((hdr >> 9) & 0x7f)) : -1;
    return f < 0 ? MF__COUNT : (enum mf) f;
}

void
ofmatch_encode_field(enum mf f, uint64_t value, struct buf *b)
{
    buf_put_u32(b, (uint32_t) OXM_CLASS_BASIC << 16 | (uint32_t) fields[f].oxm_field << 9
                       | fields[f].len);
    put_be(b, value, fields[f].len);
}

/* Each field with a prerequisite, and the field and value it needs (or
 * either of two values). */
static const struct {
    enum mf field, needs;
    uint64_t v1, v2;
} prereqs[] = {
    {MF_IP_PROTO, MF_ETH_TYPE, ETH_TYPE_IP, ETH_TYPE_IPV6},
    {MF_IPV4_SRC, MF_ETH_TYPE, ETH_TYPE_IP, ETH_TYPE_IP},
    {MF_IPV4_DST, MF_ETH_TYPE, ETH_TYPE_IP, ETH_TYPE_IP},
    {MF_TCP_SRC, MF_IP_PROTO, IP_PROTO_TCP, IP_PROTO_TCP},
    {MF_TCP_DST, MF_IP_PROTO, IP_PROTO_TCP, IP_PROTO_TCP},
    {MF_UDP_SRC, MF_IP_PROTO, IP_PROTO_UDP, IP_PROTO_UDP},
    {MF_UDP_DST, MF_IP_PROTO, IP_PROTO_UDP, IP_PROTO_UDP},
    {MF_ARP_OP, MF_ETH_TYPE, ETH_TYPE_ARP, ETH_TYPE_ARP},
    {MF_ARP_SPA, MF_ETH_TYPE, ETH_TYPE_ARP, ETH_TYPE_ARP},
    {MF_ARP_TPA, MF_ETH_TYPE, ETH_TYPE_ARP, ETH_TYPE_ARP},
    {MF_ARP_SHA, MF_ETH_TYPE, ETH_TYPE_ARP, ETH_TYPE_ARP},
    {MF_ARP_THA, MF_ETH_TYPE, ETH_TYPE_ARP, ETH_TYPE_ARP},
};

static bool
prereqs_ok(const struct ofmatch *m)
{
    for (size_t i = 0; i < sizeof prereqs / sizeof prereqs[0]; i++) {
        uint64_t v;
        if (has_field(m, prereqs[i].field)
            && (!ofmatch_get(m, prereqs[i].needs, &v, NULL)
                || (v != prereqs[i].v1 && v != prereqs[i].v2))) {
            return false;
        }
    }
    return true;
}

enum oferr
ofmatch_decode(struct pull *pl, struct ofmatch *m)
{
    uint16_t type, length;
    ofmatch_init(m);
    if (!pull_u16(pl, &type) || !pull_u16(pl, &length)) {
        return OFERR_BAD_MATCH_BAD_LEN;
    }
    if (type != OFPMT_OXM) {
        return OFERR_BAD_MATCH_BAD_TYPE;
    }
    struct pull oxms;
    size_t padded = ((size_t) length + 7) / 8 * 8;
    if (length < 4 || !pull_sub(pl, length - 4u, &oxms) || !pull_skip(pl, padded - length)) {
        return OFERR_BAD_MATCH_BAD_LEN;
    }
    while (oxms.left) {
        const uint8_t *tlv = oxms.p;
        uint32_t hdr;
        if (!pull_u32(&oxms, &hdr)) {
            return OFERR_BAD_MATCH_BAD_LEN;
        }
        uint16_t cls = (uint16_t) (hdr >> 16);
        uint8_t oxm_field = (uint8_t) ((hdr >> 9) & 0x7f);
        bool hasmask = hdr & 0x100;
        uint8_t plen = (uint8_t) hdr;
        const uint8_t *payload = pull_bytes(&oxms, plen);
        if (!payload || m->n == OFMATCH_MAX_ITEMS) {
            return OFERR_BAD_MATCH_BAD_LEN;
        }
        int f = cls == OXM_CLASS_BASIC ? field_by_oxm(oxm_field) : -1;
        if (f < 0) {
            /* Not modelled: keep it verbatim. */
            size_t tlv_len = 4u + plen;
            if (m->opaque_len + tlv_len > OFMATCH_OPAQUE_MAX) {
                return OFERR_BAD_MATCH_BAD_FIELD;
            }
            m->opaque_off[m->n_opaque] = m->opaque_len;
            memcpy(m->opaque + m->opaque_len, tlv, tlv_len);
            m->opaque_len = (uint16_t) (m->opaque_len + tlv_len);
            m->order[m->n++] = (uint8_t) (0x80 + m->n_opaque++);
            continue;
        }
        unsigned int len = fields[f].len;
        if (plen != (hasmask ? 2 * len : len)) {
            return OFERR_BAD_MATCH_BAD_LEN;
        }
        if (hasmask && !fields[f].maskable) {
            return OFERR_BAD_MATCH_BAD_MASK;
        }
        if (has_field(m, (enum mf) f)) {
            return OFERR_BAD_MATCH_DUP_FIELD;
        }
        m->order[m->n++] = (uint8_t) f;
        m->value[f] = get_be(payload, len);
        m->mask[f] = hasmask ? get_be(payload + len, len) : all_ones((enum mf) f);
        if (hasmask) {
            m->masked |= 1u << f;
        }
        if (f == MF_VLAN_VID && (m->value[f] > 0x1fff || (hasmask && m->mask[f] > 0x1fff))) {
            return OFERR_BAD_MATCH_BAD_VALUE;
        }
    }
    return prereqs_ok(m) ? OFERR_NONE : OFERR_BAD_MATCH_BAD_PREREQ;
}

void
ofmatch_encode(const struct ofmatch *m, struct buf *b)
{
    size_t start = b->len;
    buf_put_u16(b, OFPMT_OXM);
    buf_put_u16(b, 0);
    for (unsigned int i = 0; i < m->n; i++) {
        uint8_t item = m->order[i];
        if (item >= 0x80) {
            unsigned int k = item - 0x80u;
            size_t end = k + 1u < m->n_opaque ? m->opaque_off[k + 1] : m->opaque_len;
            buf_put(b, m->opaque + m->opaque_off[k], end - m->opaque_off[k]);
            continue;
        }
        bool hasmask = m->masked & (1u << item);
        unsigned int len = fields[item].len;
        buf_put_u32(b, (uint32_t) OXM_CLASS_BASIC << 16 | (uint32_t) fields[item].oxm_field << 9
                           | (hasmask ? 0x100u : 0) | (hasmask ? 2 * len : len));
        put_be(b, m->value[item], len);
        if (hasmask) {
            put_be(b, m->mask[item], len);
        }
    }
    buf_patch_u16(b, start + 2, (uint16_t) (b->len - start));
    buf_pad_to(b, start, 8);
}
