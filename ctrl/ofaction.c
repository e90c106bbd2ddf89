/* ofaction.c: OpenFlow 1.3 actions and instructions.
 *
 * Every action and instruction is a TLV whose length must be at least its
 * header, a multiple of 8, and within the enclosing list; the modelled
 * types must also have exactly their fixed length (set-field: the TLV
 * rounded up to 8).  Types not modelled here are kept verbatim (ofmsg.h).
 * Decoded lists are heap arrays owned by the caller. */
#include <stdlib.h>
#include <string.h>

#include "core/packet.h"
#include "ctrl/ofmsg.h"

static enum oferr
keep_raw(const uint8_t *tlv, size_t len, uint8_t **raw, size_t *raw_len)
{
    *raw = malloc(len);
    if (!*raw) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    memcpy(*raw, tlv, len);
    *raw_len = len;
    return OFERR_NONE;
}

/* Decodes the set-field payload: one unmasked OXM TLV of a modelled field,
 * the rest of the action being padding. */
static enum oferr
decode_set_field(struct pull *tlv, struct ofaction *a)
{
    uint32_t hdr;
    if (!pull_u32(tlv, &hdr)) {
        return OFERR_BAD_ACTION_BAD_SET_LEN;
    }
    enum mf f = ofmatch_field_from_oxm(hdr);
    if (f == MF__COUNT || (hdr & 0x100)) {
        return OFERR_BAD_ACTION_BAD_SET_TYPE;
    }
    unsigned int len = ofmatch_field_len(f);
    const uint8_t *v = pull_bytes(tlv, len);
    if ((hdr & 0xff) != len || !v) {
        return OFERR_BAD_ACTION_BAD_SET_LEN;
    }
    uint64_t value = 0;
    for (unsigned int i = 0; i < len; i++) {
        value = value << 8 | v[i];
    }
    a->u.set_field.field = (uint8_t) f;
    a->u.set_field.value = value;
    return OFERR_NONE;
}

void
ofaction_free_list(struct ofaction *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].raw);
    }
    free(a);
}

enum oferr
ofaction_decode_list(struct pull *pl, size_t len, struct ofaction **out, size_t *n_out)
{
    struct pull list;
    *out = NULL;
    *n_out = 0;
    if (!pull_sub(pl, len, &list)) {
        return OFERR_BAD_ACTION_BAD_LEN;
    }
    size_t cap = 0, n = 0;
    struct ofaction *acts = NULL;
    enum oferr e = OFERR_NONE;
    while (list.left && !e) {
        const uint8_t *start = list.p;
        uint16_t type, alen;
        struct pull body;
        if (!pull_u16(&list, &type) || !pull_u16(&list, &alen) || alen < 8 || alen % 8
            || !pull_sub(&list, alen - 4u, &body)) {
            e = OFERR_BAD_ACTION_BAD_LEN;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            struct ofaction *grown = realloc(acts, cap * sizeof *acts);
            if (!grown) {
                e = OFERR_BAD_ACTION_BAD_LEN;
                break;
            }
            acts = grown;
        }
        struct ofaction *a = &acts[n++];
        memset(a, 0, sizeof *a);
        a->type = type;
        uint16_t pad16;
        uint32_t pad32;
        switch (type) {
        case OFPAT_OUTPUT:
            if (alen != 16 || !pull_u32(&body, &a->u.output.port)
                || !pull_u16(&body, &a->u.output.max_len)) {
                e = OFERR_BAD_ACTION_BAD_LEN;
            } else if (!a->u.output.port || a->u.output.port == OFPP_ANY) {
                e = OFERR_BAD_ACTION_BAD_OUT_PORT;
            }
            break;
        case OFPAT_PUSH_VLAN:
            if (alen != 8 || !pull_u16(&body, &a->u.push_vlan_ethertype)
                || !pull_u16(&body, &pad16)) {
                e = OFERR_BAD_ACTION_BAD_LEN;
            } else if (a->u.push_vlan_ethertype != ETH_TYPE_VLAN
                       && a->u.push_vlan_ethertype != ETH_TYPE_QINQ) {
                e = OFERR_BAD_ACTION_BAD_ARGUMENT;
            }
            break;
        case OFPAT_POP_VLAN:
            if (alen != 8 || !pull_u32(&body, &pad32)) {
                e = OFERR_BAD_ACTION_BAD_LEN;
            }
            break;
        case OFPAT_SET_QUEUE:
        case OFPAT_GROUP:
            if (alen != 8 || !pull_u32(&body, type == OFPAT_GROUP ? &a->u.group_id
                                                                  : &a->u.queue_id)) {
                e = OFERR_BAD_ACTION_BAD_LEN;
            }
            break;
        case OFPAT_SET_FIELD:
            e = decode_set_field(&body, a);
            if (!e && alen != (4 + 4 + ofmatch_field_len(a->u.set_field.field) + 7) / 8 * 8) {
                e = OFERR_BAD_ACTION_BAD_SET_LEN;
            }
            break;
        default:
            e = keep_raw(start, alen, &a->raw, &a->raw_len);
            break;
        }
    }
    if (e) {
        ofaction_free_list(acts, n);
        return e;
    }
    *out = acts;
    *n_out = n;
    return OFERR_NONE;
}

void
ofaction_encode_list(const struct ofaction *acts, size_t n, struct buf *b)
{
    for (size_t i = 0; i < n; i++) {
        const struct ofaction *a = &acts[i];
        if (a->raw) {
            buf_put(b, a->raw, a->raw_len);
            continue;
        }
        size_t start = b->len;
        buf_put_u16(b, a->type);
        buf_put_u16(b, 0);
        switch (a->type) {
        case OFPAT_OUTPUT:
            buf_put_u32(b, a->u.output.port);
            buf_put_u16(b, a->u.output.max_len);
            buf_put_zeros(b, 6);
            break;
        case OFPAT_PUSH_VLAN:
            buf_put_u16(b, a->u.push_vlan_ethertype);
            buf_put_zeros(b, 2);
            break;
        case OFPAT_POP_VLAN:
            buf_put_zeros(b, 4);
            break;
        case OFPAT_SET_QUEUE:
            buf_put_u32(b, a->u.queue_id);
            break;
        case OFPAT_GROUP:
            buf_put_u32(b, a->u.group_id);
            break;
        case OFPAT_SET_FIELD:
            ofmatch_encode_field(a->u.set_field.field, a->u.set_field.value, b);
            break;
        default:
            break;
        }
        buf_pad_to(b, start, 8);
        buf_patch_u16(b, start + 2, (uint16_t) (b->len - start));
    }
}

void
ofaction_free_insts(struct ofinst *insts, size_t n)
{
    for (size_t i = 0; insts && i < n; i++) {
        free(insts[i].raw);
        ofaction_free_list(insts[i].actions, insts[i].n_actions);
    }
    free(insts);
}

enum oferr
ofaction_decode_insts(struct pull *pl, size_t len, struct ofinst **out, size_t *n_out)
{
    struct pull list;
    *out = NULL;
    *n_out = 0;
    if (!pull_sub(pl, len, &list)) {
        return OFERR_BAD_INSTRUCTION_BAD_LEN;
    }
    size_t cap = 0, n = 0;
    struct ofinst *insts = NULL;
    enum oferr e = OFERR_NONE;
    while (list.left && !e) {
        const uint8_t *start = list.p;
        uint16_t type, ilen;
        struct pull body;
        if (!pull_u16(&list, &type) || !pull_u16(&list, &ilen) || ilen < 8 || ilen % 8
            || !pull_sub(&list, ilen - 4u, &body)) {
            e = OFERR_BAD_INSTRUCTION_BAD_LEN;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            struct ofinst *grown = realloc(insts, cap * sizeof *insts);
            if (!grown) {
                e = OFERR_BAD_INSTRUCTION_BAD_LEN;
                break;
            }
            insts = grown;
        }
        struct ofinst *in = &insts[n++];
        memset(in, 0, sizeof *in);
        in->type = type;
        switch (type) {
        case OFPIT_GOTO_TABLE:
            if (ilen != 8 || !pull_u8(&body, &in->table_id)) {
                e = OFERR_BAD_INSTRUCTION_BAD_LEN;
            }
            break;
        case OFPIT_METER:
            if (ilen != 8 || !pull_u32(&body, &in->meter_id)) {
                e = OFERR_BAD_INSTRUCTION_BAD_LEN;
            }
            break;
        case OFPIT_WRITE_METADATA:
            if (ilen != 24 || !pull_skip(&body, 4)
                || !pull_u64(&body, &in->metadata)
                || !pull_u64(&body, &in->metadata_mask)) {
                e = OFERR_BAD_INSTRUCTION_BAD_LEN;
            }
            break;
        case OFPIT_WRITE_ACTIONS:
        case OFPIT_APPLY_ACTIONS:
        case OFPIT_CLEAR_ACTIONS:
            if (!pull_skip(&body, 4)) {
                e = OFERR_BAD_INSTRUCTION_BAD_LEN;
            } else if (type == OFPIT_CLEAR_ACTIONS && body.left) {
                e = OFERR_BAD_INSTRUCTION_BAD_LEN;
            } else {
                e = ofaction_decode_list(&body, body.left, &in->actions, &in->n_actions);
            }
            break;
        default:
            e = keep_raw(start, ilen, &in->raw, &in->raw_len);
            break;
        }
    }
    if (e) {
        ofaction_free_insts(insts, n);
        return e;
    }
    *out = insts;
    *n_out = n;
    return OFERR_NONE;
}

void
ofaction_encode_insts(const struct ofinst *insts, size_t n, struct buf *b)
{
    for (size_t i = 0; i < n; i++) {
        const struct ofinst *in = &insts[i];
        if (in->raw) {
            buf_put(b, in->raw, in->raw_len);
            continue;
        }
        size_t start = b->len;
        buf_put_u16(b, in->type);
        buf_put_u16(b, 0);
        switch (in->type) {
        case OFPIT_GOTO_TABLE:
            buf_put_u8(b, in->table_id);
            buf_put_zeros(b, 3);
            break;
        case OFPIT_METER:
            buf_put_u32(b, in->meter_id);
            break;
        case OFPIT_WRITE_METADATA:
            buf_put_zeros(b, 4);
            buf_put_u64(b, in->metadata);
            buf_put_u64(b, in->metadata_mask);
            break;
        default:
            buf_put_zeros(b, 4);
            ofaction_encode_list(in->actions, in->n_actions, b);
            break;
        }
        buf_patch_u16(b, start + 2, (uint16_t) (b->len - start));
    }
}
