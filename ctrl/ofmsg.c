/* ofmsg.c: OpenFlow 1.3 message decode/encode (see ofmsg.h).
 *
 * One decode_* and one encode_* per message body; ofmsg_decode() checks the
 * header (version 4, length equal to the buffer) and dispatches on the type.
 * Each body decoder must consume its body exactly: trailing bytes are a
 * length error, as are lists whose entries overrun their container. */
#include "ctrl/ofmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OFPHET_VERSIONBITMAP 1
#define PORT_LEN 64

static const char *const type_names[] = {
    [OFPT_HELLO] = "HELLO", [OFPT_ERROR] = "ERROR",
    [OFPT_ECHO_REQUEST] = "ECHO_REQUEST", [OFPT_ECHO_REPLY] = "ECHO_REPLY",
    [OFPT_EXPERIMENTER] = "EXPERIMENTER",
    [OFPT_FEATURES_REQUEST] = "FEATURES_REQUEST",
    [OFPT_FEATURES_REPLY] = "FEATURES_REPLY",
    [OFPT_GET_CONFIG_REQUEST] = "GET_CONFIG_REQUEST",
    [OFPT_GET_CONFIG_REPLY] = "GET_CONFIG_REPLY", [OFPT_SET_CONFIG] = "SET_CONFIG",
    [OFPT_PACKET_IN] = "PACKET_IN", [OFPT_FLOW_REMOVED] = "FLOW_REMOVED",
    [OFPT_PORT_STATUS] = "PORT_STATUS", [OFPT_PACKET_OUT] = "PACKET_OUT",
    [OFPT_FLOW_MOD] = "FLOW_MOD", [OFPT_GROUP_MOD] = "GROUP_MOD",
    [OFPT_PORT_MOD] = "PORT_MOD", [OFPT_TABLE_MOD] = "TABLE_MOD",
    [OFPT_MULTIPART_REQUEST] = "MULTIPART_REQUEST",
    [OFPT_MULTIPART_REPLY] = "MULTIPART_REPLY",
    [OFPT_BARRIER_REQUEST] = "BARRIER_REQUEST",
    [OFPT_BARRIER_REPLY] = "BARRIER_REPLY", [22] = "QUEUE_GET_CONFIG_REQUEST",
    [23] = "QUEUE_GET_CONFIG_REPLY", [OFPT_ROLE_REQUEST] = "ROLE_REQUEST",
    [OFPT_ROLE_REPLY] = "ROLE_REPLY", [26] = "GET_ASYNC_REQUEST",
    [27] = "GET_ASYNC_REPLY", [28] = "SET_ASYNC", [OFPT_METER_MOD] = "METER_MOD",
};

const char *
ofmsg_type_name(uint8_t type)
{
    return type < sizeof type_names / sizeof type_names[0] && type_names[type]
               ? type_names[type] : "UNKNOWN";
}

long
ofmsg_frame(const uint8_t *p, size_t len)
{
    if (len < OFP_HEADER_LEN) {
        return 0;
    }
    uint16_t mlen = get_be16(p + 2);
    if (mlen < OFP_HEADER_LEN) {
        return -1;
    }
    return mlen <= len ? (long) mlen : 0;
}

uint32_t
ofmsg_xid(const uint8_t *p)
{
    return get_be32(p + 4);
}

void
ofmsg_init(struct ofmsg *msg, enum ofptype type, uint32_t xid)
{
    memset(msg, 0, sizeof *msg);
    msg->version = OFP13_VERSION;
    msg->type = (uint8_t) type;
    msg->xid = xid;
}

struct ofmsg_flow_mod *
ofmsg_flow_mod_init(struct ofmsg *msg, enum ofp_flow_mod_command command, uint8_t table_id,
                    uint16_t priority, uint64_t cookie)
{
    ofmsg_init(msg, OFPT_FLOW_MOD, 0);
    struct ofmsg_flow_mod *fm = &msg->u.flow_mod;
    fm->command = (uint8_t) command;
    fm->table_id = table_id;
    fm->priority = priority;
    fm->cookie = cookie;
    fm->buffer_id = OFP_NO_BUFFER;
    fm->out_port = OFPP_ANY;
    fm->out_group = OFPG_ANY;
    return fm;
}

/* Copies the rest of 'pl' into a new heap buffer. */
static enum oferr
take_rest(struct pull *pl, uint8_t **data, size_t *len)
{
    *len = pl->left;
    *data = NULL;
    if (!*len) {
        return OFERR_NONE;
    }
    *data = malloc(*len);
    if (!*data) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    memcpy(*data, pull_bytes(pl, *len), *len);
    return OFERR_NONE;
}

/* Grows a heap array by one element; returns the new element or NULL. */
static void *
grow(void **array, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 4;
        void *g = realloc(*array, c * size);
        if (!g) {
            return NULL;
        }
        *array = g;
        *cap = c;
    }
    void *e = (char *) *array + (*n)++ * size;
    memset(e, 0, size);
    return e;
}

/* --- ports --- */

static enum oferr
decode_port(struct pull *pl, struct ofport *p)
{
    const uint8_t *raw = pull_bytes(pl, PORT_LEN);
    if (!raw) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    struct pull q;
    pull_init(&q, raw, PORT_LEN);
    pull_u32(&q, &p->port_no);
    pull_skip(&q, 4);
    memcpy(p->hw_addr, pull_bytes(&q, 6), 6);
    pull_skip(&q, 2);
    memcpy(p->name, pull_bytes(&q, 16), 16);
    p->name[16] = '\0';
    uint32_t *fields[] = {&p->config, &p->state, &p->curr, &p->advertised,
                          &p->supported, &p->peer, &p->curr_speed, &p->max_speed};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        pull_u32(&q, fields[i]);
    }
    return OFERR_NONE;
}

static void
encode_port(const struct ofport *p, struct buf *b)
{
    buf_put_u32(b, p->port_no);
    buf_put_zeros(b, 4);
    buf_put(b, p->hw_addr, 6);
    buf_put_zeros(b, 2);
    uint8_t *name = buf_put_zeros(b, 16);
    if (name) {
        memcpy(name, p->name, strnlen(p->name, 16));
    }
    const uint32_t fields[] = {p->config, p->state, p->curr, p->advertised,
                               p->supported, p->peer, p->curr_speed, p->max_speed};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        buf_put_u32(b, fields[i]);
    }
}

/* --- message bodies --- */

static enum oferr
decode_hello(struct pull *pl, struct ofmsg_hello *h)
{
    struct pull elems = *pl;
    while (elems.left) {
        uint16_t type, len;
        struct pull body;
        if (!pull_u16(&elems, &type) || !pull_u16(&elems, &len) || len < 4
            || !pull_sub(&elems, len - 4u, &body)) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        if (type == OFPHET_VERSIONBITMAP && !h->has_bitmap) {
            if (!pull_u32(&body, &h->bitmap)) {
                return OFERR_BAD_REQUEST_BAD_LEN;
            }
            h->has_bitmap = true;
        }
        /* Elements are padded to 8 bytes; the padding is not in 'len'. */
        size_t pad = ((size_t) len + 7) / 8 * 8 - len;
        if (elems.left && !pull_skip(&elems, pad < elems.left ? pad : elems.left)) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
    }
    return take_rest(pl, &h->elements, &h->elements_len);
}

static void
encode_hello(const struct ofmsg_hello *h, struct buf *b)
{
    if (h->elements_len) {
        buf_put(b, h->elements, h->elements_len);
    } else if (h->has_bitmap) {
        buf_put_u16(b, OFPHET_VERSIONBITMAP);
        buf_put_u16(b, 8);
        buf_put_u32(b, h->bitmap);
    }
}

enum oferr
ofmsg_hello_negotiate(const struct ofmsg *peer)
{
    if (peer->u.hello.has_bitmap) {
        return (peer->u.hello.bitmap & (1u << OFP13_VERSION))
                   ? OFERR_NONE : OFERR_HELLO_FAILED_INCOMPATIBLE;
    }
    /* Without a bitmap, the peer's highest version is its header version. */
    return peer->version >= OFP13_VERSION ? OFERR_NONE
                                          : OFERR_HELLO_FAILED_INCOMPATIBLE;
}

static enum oferr
decode_packet_in(struct pull *pl, struct ofmsg_packet_in *pi)
{
    if (!pull_u32(pl, &pi->buffer_id) || !pull_u16(pl, &pi->total_len)
        || !pull_u8(pl, &pi->reason) || !pull_u8(pl, &pi->table_id)
        || !pull_u64(pl, &pi->cookie)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    enum oferr e = ofmatch_decode(pl, &pi->match);
    if (e) {
        return e;
    }
    if (!pull_skip(pl, 2)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    return take_rest(pl, &pi->data, &pi->len);
}

static void
encode_packet_in(const struct ofmsg_packet_in *pi, struct buf *b)
{
    buf_put_u32(b, pi->buffer_id);
    buf_put_u16(b, pi->total_len);
    buf_put_u8(b, pi->reason);
    buf_put_u8(b, pi->table_id);
    buf_put_u64(b, pi->cookie);
    ofmatch_encode(&pi->match, b);
    buf_put_zeros(b, 2);
    buf_put(b, pi->data, pi->len);
}

static enum oferr
decode_packet_out(struct pull *pl, struct ofmsg_packet_out *po)
{
    uint16_t actions_len;
    if (!pull_u32(pl, &po->buffer_id) || !pull_u32(pl, &po->in_port)
        || !pull_u16(pl, &actions_len) || !pull_skip(pl, 6)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    enum oferr e = ofaction_decode_list(pl, actions_len, &po->actions, &po->n_actions);
    if (e) {
        return e;
    }
    if (po->buffer_id != OFP_NO_BUFFER && pl->left) {
        return OFERR_BAD_REQUEST_BAD_PACKET;
    }
    return take_rest(pl, &po->data, &po->len);
}

static void
encode_packet_out(const struct ofmsg_packet_out *po, struct buf *b)
{
    buf_put_u32(b, po->buffer_id);
    buf_put_u32(b, po->in_port);
    size_t len_at = b->len;
    buf_put_u16(b, 0);
    buf_put_zeros(b, 6);
    size_t start = b->len;
    ofaction_encode_list(po->actions, po->n_actions, b);
    buf_patch_u16(b, len_at, (uint16_t) (b->len - start));
    buf_put(b, po->data, po->len);
}

static enum oferr
decode_flow_mod(struct pull *pl, struct ofmsg_flow_mod *fm)
{
    if (!pull_u64(pl, &fm->cookie) || !pull_u64(pl, &fm->cookie_mask)
        || !pull_u8(pl, &fm->table_id) || !pull_u8(pl, &fm->command)
        || !pull_u16(pl, &fm->idle_timeout) || !pull_u16(pl, &fm->hard_timeout)
        || !pull_u16(pl, &fm->priority) || !pull_u32(pl, &fm->buffer_id)
        || !pull_u32(pl, &fm->out_port) || !pull_u32(pl, &fm->out_group)
        || !pull_u16(pl, &fm->flags) || !pull_skip(pl, 2)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    if (fm->command > OFPFC_DELETE_STRICT) {
        return OFERR_FLOW_MOD_FAILED_BAD_COMMAND;
    }
    enum oferr e = ofmatch_decode(pl, &fm->match);
    return e ? e : ofaction_decode_insts(pl, pl->left, &fm->insts, &fm->n_insts);
}

static void
encode_flow_mod(const struct ofmsg_flow_mod *fm, struct buf *b)
{
    buf_put_u64(b, fm->cookie);
    buf_put_u64(b, fm->cookie_mask);
    buf_put_u8(b, fm->table_id);
    buf_put_u8(b, fm->command);
    buf_put_u16(b, fm->idle_timeout);
    buf_put_u16(b, fm->hard_timeout);
    buf_put_u16(b, fm->priority);
    buf_put_u32(b, fm->buffer_id);
    buf_put_u32(b, fm->out_port);
    buf_put_u32(b, fm->out_group);
    buf_put_u16(b, fm->flags);
    buf_put_zeros(b, 2);
    ofmatch_encode(&fm->match, b);
    ofaction_encode_insts(fm->insts, fm->n_insts, b);
}

static enum oferr
decode_flow_removed(struct pull *pl, struct ofmsg_flow_removed *fr)
{
    if (!pull_u64(pl, &fr->cookie) || !pull_u16(pl, &fr->priority)
        || !pull_u8(pl, &fr->reason) || !pull_u8(pl, &fr->table_id)
        || !pull_u32(pl, &fr->duration_sec) || !pull_u32(pl, &fr->duration_nsec)
        || !pull_u16(pl, &fr->idle_timeout) || !pull_u16(pl, &fr->hard_timeout)
        || !pull_u64(pl, &fr->packet_count) || !pull_u64(pl, &fr->byte_count)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    return ofmatch_decode(pl, &fr->match);
}

static void
encode_flow_removed(const struct ofmsg_flow_removed *fr, struct buf *b)
{
    buf_put_u64(b, fr->cookie);
    buf_put_u16(b, fr->priority);
    buf_put_u8(b, fr->reason);
    buf_put_u8(b, fr->table_id);
    buf_put_u32(b, fr->duration_sec);
    buf_put_u32(b, fr->duration_nsec);
    buf_put_u16(b, fr->idle_timeout);
    buf_put_u16(b, fr->hard_timeout);
    buf_put_u64(b, fr->packet_count);
    buf_put_u64(b, fr->byte_count);
    ofmatch_encode(&fr->match, b);
}

static enum oferr
decode_group_mod(struct pull *pl, struct ofmsg_group_mod *gm)
{
    size_t cap = 0;
    if (!pull_u16(pl, &gm->command) || !pull_u8(pl, &gm->type) || !pull_skip(pl, 1)
        || !pull_u32(pl, &gm->group_id)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    if (gm->command > OFPGC_DELETE && gm->command != OFPGC_ADD_OR_MOD) {
        return OFERR_GROUP_MOD_FAILED_BAD_COMMAND;
    }
    if (gm->type > OFPGT_FF) {
        return OFERR_GROUP_MOD_FAILED_BAD_TYPE;
    }
    while (pl->left) {
        uint16_t len;
        struct pull body;
        if (!pull_u16(pl, &len) || len < 16 || len % 8 || !pull_sub(pl, len - 2u, &body)) {
            return OFERR_GROUP_MOD_FAILED_BAD_BUCKET;
        }
        struct ofbucket *bk = grow((void **) &gm->buckets, &gm->n_buckets, &cap,
                                   sizeof *bk);
        if (!bk) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        pull_u16(&body, &bk->weight);
        pull_u32(&body, &bk->watch_port);
        pull_u32(&body, &bk->watch_group);
        pull_skip(&body, 4);
        enum oferr e = ofaction_decode_list(&body, body.left, &bk->actions, &bk->n_actions);
        if (e) {
            return e;
        }
    }
    return OFERR_NONE;
}

static void
encode_group_mod(const struct ofmsg_group_mod *gm, struct buf *b)
{
    buf_put_u16(b, gm->command);
    buf_put_u8(b, gm->type);
    buf_put_zeros(b, 1);
    buf_put_u32(b, gm->group_id);
    for (size_t i = 0; i < gm->n_buckets; i++) {
        const struct ofbucket *bk = &gm->buckets[i];
        size_t start = b->len;
        buf_put_u16(b, 0);
        buf_put_u16(b, bk->weight);
        buf_put_u32(b, bk->watch_port);
        buf_put_u32(b, bk->watch_group);
        buf_put_zeros(b, 4);
        ofaction_encode_list(bk->actions, bk->n_actions, b);
        buf_patch_u16(b, start, (uint16_t) (b->len - start));
    }
}

/* Appends the bands that fill the rest of 'pl' to mm->bands. */
static enum oferr
decode_bands(struct pull *pl, struct ofmsg_meter_mod *mm)
{
    size_t cap = 0;
    while (pl->left) {
        uint16_t type, len;
        struct pull body;
        if (!pull_u16(pl, &type) || !pull_u16(pl, &len) || len != 16
            || !pull_sub(pl, len - 4u, &body)) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        if (type != OFPMBT_DROP && type != OFPMBT_DSCP_REMARK) {
            return OFERR_METER_MOD_FAILED_BAD_BAND;
        }
        struct ofband *band = grow((void **) &mm->bands, &mm->n_bands, &cap, sizeof *band);
        if (!band) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        band->type = type;
        pull_u32(&body, &band->rate);
        pull_u32(&body, &band->burst_size);
        if (type == OFPMBT_DSCP_REMARK) {
            pull_u8(&body, &band->prec_level);
        }
    }
    return OFERR_NONE;
}

static void
encode_bands(const struct ofmsg_meter_mod *mm, struct buf *b)
{
    for (size_t i = 0; i < mm->n_bands; i++) {
        const struct ofband *band = &mm->bands[i];
        buf_put_u16(b, band->type);
        buf_put_u16(b, 16);
        buf_put_u32(b, band->rate);
        buf_put_u32(b, band->burst_size);
        buf_put_u8(b, band->type == OFPMBT_DSCP_REMARK ? band->prec_level : 0);
        buf_put_zeros(b, 3);
    }
}

static enum oferr
decode_meter_mod(struct pull *pl, struct ofmsg_meter_mod *mm)
{
    if (!pull_u16(pl, &mm->command) || !pull_u16(pl, &mm->flags)
        || !pull_u32(pl, &mm->meter_id)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    if (mm->command > OFPMC_DELETE) {
        return OFERR_METER_MOD_FAILED_BAD_COMMAND;
    }
    return decode_bands(pl, mm);
}

static void
encode_meter_mod(const struct ofmsg_meter_mod *mm, struct buf *b)
{
    buf_put_u16(b, mm->command);
    buf_put_u16(b, mm->flags);
    buf_put_u32(b, mm->meter_id);
    encode_bands(mm, b);
}

/* One METER_CONFIG reply entry (length, flags, meter_id, bands): the same
 * body as a METER_MOD's after its own length; 'command' stays 0. */
static enum oferr
decode_meter_config(struct pull *pl, struct ofmsg_meter_mod *mc)
{
    uint16_t len;
    struct pull entry;
    if (!pull_u16(pl, &len) || len < 8 || !pull_sub(pl, len - 2u, &entry)
        || !pull_u16(&entry, &mc->flags) || !pull_u32(&entry, &mc->meter_id)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    return decode_bands(&entry, mc);
}

static void
encode_meter_config(const struct ofmsg_meter_mod *mc, struct buf *b)
{
    buf_put_u16(b, (uint16_t) (8 + 16 * mc->n_bands));
    buf_put_u16(b, mc->flags);
    buf_put_u32(b, mc->meter_id);
    encode_bands(mc, b);
}

/* --- multipart --- */

static enum oferr
decode_mp_request(struct pull *pl, struct ofmsg_multipart *mp)
{
    switch (mp->mp_type) {
    case OFPMP_PORT_DESC:
        return OFERR_NONE;
    case OFPMP_FLOW: {
        struct ofmp_flow_request *f = &mp->req.flow;
        if (!pull_u8(pl, &f->table_id) || !pull_skip(pl, 3) || !pull_u32(pl, &f->out_port)
            || !pull_u32(pl, &f->out_group) || !pull_skip(pl, 4)
            || !pull_u64(pl, &f->cookie) || !pull_u64(pl, &f->cookie_mask)) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        return ofmatch_decode(pl, &f->match);
    }
    case OFPMP_PORT_STATS:
    case OFPMP_METER:
    case OFPMP_METER_CONFIG:
        return pull_u32(pl, mp->mp_type != OFPMP_PORT_STATS ? &mp->req.meter_id
                                                             : &mp->req.port_no)
                       && pull_skip(pl, 4)
                   ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
    case OFPMP_QUEUE:
        return pull_u32(pl, &mp->req.queue.port_no) && pull_u32(pl, &mp->req.queue.queue_id)
                   ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
    default:
        return OFERR_BAD_REQUEST_BAD_MULTIPART;
    }
}

static void
encode_mp_request(const struct ofmsg_multipart *mp, struct buf *b)
{
    switch (mp->mp_type) {
    case OFPMP_FLOW: {
        const struct ofmp_flow_request *f = &mp->req.flow;
        buf_put_u8(b, f->table_id);
        buf_put_zeros(b, 3);
        buf_put_u32(b, f->out_port);
        buf_put_u32(b, f->out_group);
        buf_put_zeros(b, 4);
        buf_put_u64(b, f->cookie);
        buf_put_u64(b, f->cookie_mask);
        ofmatch_encode(&f->match, b);
        break;
    }
    case OFPMP_PORT_STATS:
    case OFPMP_METER:
    case OFPMP_METER_CONFIG:
        buf_put_u32(b, mp->mp_type != OFPMP_PORT_STATS ? mp->req.meter_id
                                                       : mp->req.port_no);
        buf_put_zeros(b, 4);
        break;
    case OFPMP_QUEUE:
        buf_put_u32(b, mp->req.queue.port_no);
        buf_put_u32(b, mp->req.queue.queue_id);
        break;
    default:
        break;
    }
}

static enum oferr
decode_flow_stats(struct pull *entry, struct offlow_stats *fs)
{
    if (!pull_u8(entry, &fs->table_id) || !pull_skip(entry, 1)
        || !pull_u32(entry, &fs->duration_sec) || !pull_u32(entry, &fs->duration_nsec)
        || !pull_u16(entry, &fs->priority) || !pull_u16(entry, &fs->idle_timeout)
        || !pull_u16(entry, &fs->hard_timeout) || !pull_u16(entry, &fs->flags)
        || !pull_skip(entry, 4) || !pull_u64(entry, &fs->cookie)
        || !pull_u64(entry, &fs->packet_count) || !pull_u64(entry, &fs->byte_count)) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    enum oferr e = ofmatch_decode(entry, &fs->match);
    return e ? e : ofaction_decode_insts(entry, entry->left, &fs->insts, &fs->n_insts);
}

static enum oferr
decode_meter_stats(struct pull *entry, struct ofmeter_stats *ms)
{
    uint16_t len;
    if (!pull_u32(entry, &ms->meter_id) || !pull_u16(entry, &len) || !pull_skip(entry, 6)
        || !pull_u32(entry, &ms->flow_count) || !pull_u64(entry, &ms->packet_in_count)
        || !pull_u64(entry, &ms->byte_in_count) || !pull_u32(entry, &ms->duration_sec)
        || !pull_u32(entry, &ms->duration_nsec) || entry->left % 16) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    ms->n_bands = entry->left / 16;
    ms->band_packets = calloc(ms->n_bands + 1, sizeof *ms->band_packets);
    ms->band_bytes = calloc(ms->n_bands + 1, sizeof *ms->band_bytes);
    if (!ms->band_packets || !ms->band_bytes) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    for (size_t i = 0; i < ms->n_bands; i++) {
        pull_u64(entry, &ms->band_packets[i]);
        pull_u64(entry, &ms->band_bytes[i]);
    }
    return OFERR_NONE;
}

static enum oferr
decode_mp_reply(struct pull *pl, struct ofmsg_multipart *mp)
{
    size_t cap = 0;
    if (mp->mp_type != OFPMP_PORT_DESC && mp->mp_type != OFPMP_FLOW
        && mp->mp_type != OFPMP_PORT_STATS && mp->mp_type != OFPMP_QUEUE
        && mp->mp_type != OFPMP_METER && mp->mp_type != OFPMP_METER_CONFIG) {
        return OFERR_BAD_REQUEST_BAD_MULTIPART;
    }
    while (pl->left) {
        struct pull entry;
        enum oferr e;
        switch (mp->mp_type) {
        case OFPMP_PORT_DESC: {
            struct ofport *p = grow((void **) &mp->ports, &mp->n, &cap, sizeof *p);
            e = p ? decode_port(pl, p) : OFERR_BAD_REQUEST_BAD_LEN;
            break;
        }
        case OFPMP_FLOW: {
            uint16_t len;
            if (!pull_u16(pl, &len) || len < 56 || !pull_sub(pl, len - 2u, &entry)) {
                return OFERR_BAD_REQUEST_BAD_LEN;
            }
            struct offlow_stats *fs = grow((void **) &mp->flows, &mp->n, &cap, sizeof *fs);
            e = fs ? decode_flow_stats(&entry, fs) : OFERR_BAD_REQUEST_BAD_LEN;
            break;
        }
        case OFPMP_PORT_STATS: {
            struct ofport_stats *s = grow((void **) &mp->port_stats, &mp->n, &cap, sizeof *s);
            if (!s) {
                return OFERR_BAD_REQUEST_BAD_LEN;
            }
            uint64_t *c[] = {&s->rx_packets, &s->tx_packets, &s->rx_bytes, &s->tx_bytes,
                             &s->rx_dropped, &s->tx_dropped, &s->rx_errors, &s->tx_errors,
                             &s->rx_frame_err, &s->rx_over_err, &s->rx_crc_err,
                             &s->collisions};
            e = pull_sub(pl, 112, &entry) && pull_u32(&entry, &s->port_no)
                        && pull_skip(&entry, 4)
                    ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
            for (size_t i = 0; !e && i < sizeof c / sizeof c[0]; i++) {
                pull_u64(&entry, c[i]);
            }
            if (!e) {
                pull_u32(&entry, &s->duration_sec);
                pull_u32(&entry, &s->duration_nsec);
            }
            break;
        }
        case OFPMP_QUEUE: {
            struct ofqueue_stats *q = grow((void **) &mp->queue_stats, &mp->n, &cap, sizeof *q);
            if (!q) {
                return OFERR_BAD_REQUEST_BAD_LEN;
            }
            e = pull_sub(pl, 40, &entry) && pull_u32(&entry, &q->port_no)
                        && pull_u32(&entry, &q->queue_id) && pull_u64(&entry, &q->tx_bytes)
                        && pull_u64(&entry, &q->tx_packets) && pull_u64(&entry, &q->tx_errors)
                        && pull_u32(&entry, &q->duration_sec)
                        && pull_u32(&entry, &q->duration_nsec)
                    ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
            break;
        }
        case OFPMP_METER: {
            if (pl->left < 6 || get_be16(pl->p + 4) < 40
                || !pull_sub(pl, get_be16(pl->p + 4), &entry)) {
                return OFERR_BAD_REQUEST_BAD_LEN;
            }
            struct ofmeter_stats *ms = grow((void **) &mp->meter_stats, &mp->n, &cap,
                                            sizeof *ms);
            e = ms ? decode_meter_stats(&entry, ms) : OFERR_BAD_REQUEST_BAD_LEN;
            break;
        }
        case OFPMP_METER_CONFIG: {
            struct ofmsg_meter_mod *mc = grow((void **) &mp->meter_configs, &mp->n, &cap,
                                              sizeof *mc);
            e = mc ? decode_meter_config(pl, mc) : OFERR_BAD_REQUEST_BAD_LEN;
            break;
        }
        default:
            return OFERR_BAD_REQUEST_BAD_MULTIPART;
        }
        if (e) {
            return e;
        }
    }
    return OFERR_NONE;
}

static void
encode_mp_reply(const struct ofmsg_multipart *mp, struct buf *b)
{
    for (size_t i = 0; i < mp->n; i++) {
        switch (mp->mp_type) {
        case OFPMP_PORT_DESC:
            encode_port(&mp->ports[i], b);
            break;
        case OFPMP_FLOW: {
            const struct offlow_stats *fs = &mp->flows[i];
            size_t start = b->len;
            buf_put_u16(b, 0);
            buf_put_u8(b, fs->table_id);
            buf_put_zeros(b, 1);
            buf_put_u32(b, fs->duration_sec);
            buf_put_u32(b, fs->duration_nsec);
            buf_put_u16(b, fs->priority);
            buf_put_u16(b, fs->idle_timeout);
            buf_put_u16(b, fs->hard_timeout);
            buf_put_u16(b, fs->flags);
            buf_put_zeros(b, 4);
            buf_put_u64(b, fs->cookie);
            buf_put_u64(b, fs->packet_count);
            buf_put_u64(b, fs->byte_count);
            ofmatch_encode(&fs->match, b);
            ofaction_encode_insts(fs->insts, fs->n_insts, b);
            buf_patch_u16(b, start, (uint16_t) (b->len - start));
            break;
        }
        case OFPMP_PORT_STATS: {
            const struct ofport_stats *s = &mp->port_stats[i];
            const uint64_t c[] = {s->rx_packets, s->tx_packets, s->rx_bytes, s->tx_bytes,
                                  s->rx_dropped, s->tx_dropped, s->rx_errors, s->tx_errors,
                                  s->rx_frame_err, s->rx_over_err, s->rx_crc_err,
                                  s->collisions};
            buf_put_u32(b, s->port_no);
            buf_put_zeros(b, 4);
            for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
                buf_put_u64(b, c[k]);
            }
            buf_put_u32(b, s->duration_sec);
            buf_put_u32(b, s->duration_nsec);
            break;
        }
        case OFPMP_QUEUE: {
            const struct ofqueue_stats *q = &mp->queue_stats[i];
            buf_put_u32(b, q->port_no);
            buf_put_u32(b, q->queue_id);
            buf_put_u64(b, q->tx_bytes);
            buf_put_u64(b, q->tx_packets);
            buf_put_u64(b, q->tx_errors);
            buf_put_u32(b, q->duration_sec);
            buf_put_u32(b, q->duration_nsec);
            break;
        }
        case OFPMP_METER: {
            const struct ofmeter_stats *ms = &mp->meter_stats[i];
            buf_put_u32(b, ms->meter_id);
            buf_put_u16(b, (uint16_t) (40 + 16 * ms->n_bands));
            buf_put_zeros(b, 6);
            buf_put_u32(b, ms->flow_count);
            buf_put_u64(b, ms->packet_in_count);
            buf_put_u64(b, ms->byte_in_count);
            buf_put_u32(b, ms->duration_sec);
            buf_put_u32(b, ms->duration_nsec);
            for (size_t k = 0; k < ms->n_bands; k++) {
                buf_put_u64(b, ms->band_packets[k]);
                buf_put_u64(b, ms->band_bytes[k]);
            }
            break;
        }
        case OFPMP_METER_CONFIG:
            encode_meter_config(&mp->meter_configs[i], b);
            break;
        default:
            break;
        }
    }
}

/* --- dispatch --- */

static enum oferr
decode_body(struct pull *pl, struct ofmsg *msg)
{
    switch (msg->type) {
    case OFPT_HELLO:
        return decode_hello(pl, &msg->u.hello);
    case OFPT_ERROR:
        if (!pull_u16(pl, &msg->u.error.type) || !pull_u16(pl, &msg->u.error.code)) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        return take_rest(pl, &msg->u.error.data, &msg->u.error.len);
    case OFPT_ECHO_REQUEST:
    case OFPT_ECHO_REPLY:
        return take_rest(pl, &msg->u.echo.data, &msg->u.echo.len);
    case OFPT_FEATURES_REQUEST:
    case OFPT_GET_CONFIG_REQUEST:
    case OFPT_BARRIER_REQUEST:
    case OFPT_BARRIER_REPLY:
        return OFERR_NONE;
    case OFPT_FEATURES_REPLY: {
        struct ofmsg_features *f = &msg->u.features;
        return pull_u64(pl, &f->datapath_id) && pull_u32(pl, &f->n_buffers)
                       && pull_u8(pl, &f->n_tables) && pull_u8(pl, &f->auxiliary_id)
                       && pull_skip(pl, 2) && pull_u32(pl, &f->capabilities)
                       && pull_skip(pl, 4)
                   ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
    }
    case OFPT_GET_CONFIG_REPLY:
    case OFPT_SET_CONFIG:
        return pull_u16(pl, &msg->u.config.flags) && pull_u16(pl, &msg->u.config.miss_send_len)
                   ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
    case OFPT_PACKET_IN:
        return decode_packet_in(pl, &msg->u.packet_in);
    case OFPT_PACKET_OUT:
        return decode_packet_out(pl, &msg->u.packet_out);
    case OFPT_FLOW_MOD:
        return decode_flow_mod(pl, &msg->u.flow_mod);
    case OFPT_FLOW_REMOVED:
        return decode_flow_removed(pl, &msg->u.flow_removed);
    case OFPT_PORT_STATUS:
        return pull_u8(pl, &msg->u.port_status.reason) && pull_skip(pl, 7)
                   ? decode_port(pl, &msg->u.port_status.port) : OFERR_BAD_REQUEST_BAD_LEN;
    case OFPT_MULTIPART_REQUEST:
    case OFPT_MULTIPART_REPLY:
        if (!pull_u16(pl, &msg->u.mp.mp_type) || !pull_u16(pl, &msg->u.mp.flags)
            || !pull_skip(pl, 4)) {
            return OFERR_BAD_REQUEST_BAD_LEN;
        }
        return msg->type == OFPT_MULTIPART_REQUEST ? decode_mp_request(pl, &msg->u.mp)
                                                   : decode_mp_reply(pl, &msg->u.mp);
    case OFPT_ROLE_REQUEST:
    case OFPT_ROLE_REPLY:
        return pull_u32(pl, &msg->u.role.role) && pull_skip(pl, 4)
                       && pull_u64(pl, &msg->u.role.generation_id)
                   ? OFERR_NONE : OFERR_BAD_REQUEST_BAD_LEN;
    case OFPT_GROUP_MOD:
        return decode_group_mod(pl, &msg->u.group_mod);
    case OFPT_METER_MOD:
        return decode_meter_mod(pl, &msg->u.meter_mod);
    default:
        return OFERR_BAD_REQUEST_BAD_TYPE;
    }
}

enum oferr
ofmsg_decode(const uint8_t *p, size_t len, struct ofmsg *msg)
{
    memset(msg, 0, sizeof *msg);
    if (len < OFP_HEADER_LEN || get_be16(p + 2) != len) {
        return OFERR_BAD_REQUEST_BAD_LEN;
    }
    msg->version = p[0];
    msg->type = p[1];
    msg->xid = get_be32(p + 4);
    /* A HELLO of any version is legal: it is how versions are negotiated. */
    if (msg->version != OFP13_VERSION && msg->type != OFPT_HELLO) {
        return OFERR_BAD_REQUEST_BAD_VERSION;
    }
    struct pull pl;
    pull_init(&pl, p + OFP_HEADER_LEN, len - OFP_HEADER_LEN);
    enum oferr e = decode_body(&pl, msg);
    if (!e && pl.left) {
        e = OFERR_BAD_REQUEST_BAD_LEN;     /* trailing bytes */
    }
    if (e) {
        uint8_t version = msg->version, type = msg->type;
        uint32_t xid = msg->xid;
        ofmsg_uninit(msg);
        msg->version = version;
        msg->type = type;
        msg->xid = xid;
    }
    return e;
}

int
ofmsg_encode(const struct ofmsg *msg, struct buf *b)
{
    size_t start = b->len;
    buf_put_u8(b, msg->version ? msg->version : OFP13_VERSION);
    buf_put_u8(b, msg->type);
    buf_put_u16(b, 0);
    buf_put_u32(b, msg->xid);
    switch (msg->type) {
    case OFPT_HELLO:
        encode_hello(&msg->u.hello, b);
        break;
    case OFPT_ERROR:
        buf_put_u16(b, msg->u.error.type);
        buf_put_u16(b, msg->u.error.code);
        buf_put(b, msg->u.error.data, msg->u.error.len);
        break;
    case OFPT_ECHO_REQUEST:
    case OFPT_ECHO_REPLY:
        buf_put(b, msg->u.echo.data, msg->u.echo.len);
        break;
    case OFPT_FEATURES_REQUEST:
    case OFPT_GET_CONFIG_REQUEST:
    case OFPT_BARRIER_REQUEST:
    case OFPT_BARRIER_REPLY:
        break;
    case OFPT_FEATURES_REPLY:
        buf_put_u64(b, msg->u.features.datapath_id);
        buf_put_u32(b, msg->u.features.n_buffers);
        buf_put_u8(b, msg->u.features.n_tables);
        buf_put_u8(b, msg->u.features.auxiliary_id);
        buf_put_zeros(b, 2);
        buf_put_u32(b, msg->u.features.capabilities);
        buf_put_zeros(b, 4);
        break;
    case OFPT_GET_CONFIG_REPLY:
    case OFPT_SET_CONFIG:
        buf_put_u16(b, msg->u.config.flags);
        buf_put_u16(b, msg->u.config.miss_send_len);
        break;
    case OFPT_PACKET_IN:
        encode_packet_in(&msg->u.packet_in, b);
        break;
    case OFPT_PACKET_OUT:
        encode_packet_out(&msg->u.packet_out, b);
        break;
    case OFPT_FLOW_MOD:
        encode_flow_mod(&msg->u.flow_mod, b);
        break;
    case OFPT_FLOW_REMOVED:
        encode_flow_removed(&msg->u.flow_removed, b);
        break;
    case OFPT_PORT_STATUS:
        buf_put_u8(b, msg->u.port_status.reason);
        buf_put_zeros(b, 7);
        encode_port(&msg->u.port_status.port, b);
        break;
    case OFPT_MULTIPART_REQUEST:
    case OFPT_MULTIPART_REPLY:
        buf_put_u16(b, msg->u.mp.mp_type);
        buf_put_u16(b, msg->u.mp.flags);
        buf_put_zeros(b, 4);
        if (msg->type == OFPT_MULTIPART_REQUEST) {
            encode_mp_request(&msg->u.mp, b);
        } else {
            encode_mp_reply(&msg->u.mp, b);
        }
        break;
    case OFPT_ROLE_REQUEST:
    case OFPT_ROLE_REPLY:
        buf_put_u32(b, msg->u.role.role);
        buf_put_zeros(b, 4);
        buf_put_u64(b, msg->u.role.generation_id);
        break;
    case OFPT_GROUP_MOD:
        encode_group_mod(&msg->u.group_mod, b);
        break;
    case OFPT_METER_MOD:
        encode_meter_mod(&msg->u.meter_mod, b);
        break;
    default:
        b->len = start;
        return EINVAL;
    }
    if (b->failed) {
        return ENOMEM;
    }
    if (b->len - start > 65535) {
        b->len = start;
        return EINVAL;
    }
    buf_patch_u16(b, start + 2, (uint16_t) (b->len - start));
    return 0;
}

void
ofmsg_uninit(struct ofmsg *msg)
{
    switch (msg->type) {
    case OFPT_HELLO:
        free(msg->u.hello.elements);
        break;
    case OFPT_ERROR:
        free(msg->u.error.data);
        break;
    case OFPT_ECHO_REQUEST:
    case OFPT_ECHO_REPLY:
        free(msg->u.echo.data);
        break;
    case OFPT_PACKET_IN:
        free(msg->u.packet_in.data);
        break;
    case OFPT_PACKET_OUT:
        ofaction_free_list(msg->u.packet_out.actions, msg->u.packet_out.n_actions);
        free(msg->u.packet_out.data);
        break;
    case OFPT_FLOW_MOD:
        ofaction_free_insts(msg->u.flow_mod.insts, msg->u.flow_mod.n_insts);
        break;
    case OFPT_GROUP_MOD:
        for (size_t i = 0; i < msg->u.group_mod.n_buckets; i++) {
            ofaction_free_list(msg->u.group_mod.buckets[i].actions,
                               msg->u.group_mod.buckets[i].n_actions);
        }
        free(msg->u.group_mod.buckets);
        break;
    case OFPT_METER_MOD:
        free(msg->u.meter_mod.bands);
        break;
    case OFPT_MULTIPART_REQUEST:
    case OFPT_MULTIPART_REPLY: {
        struct ofmsg_multipart *mp = &msg->u.mp;
        for (size_t i = 0; mp->flows && i < mp->n; i++) {
            ofaction_free_insts(mp->flows[i].insts, mp->flows[i].n_insts);
        }
        for (size_t i = 0; mp->meter_stats && i < mp->n; i++) {
            free(mp->meter_stats[i].band_packets);
            free(mp->meter_stats[i].band_bytes);
        }
        for (size_t i = 0; mp->meter_configs && i < mp->n; i++) {
            free(mp->meter_configs[i].bands);
        }
        free(mp->meter_configs);
        free(mp->ports);
        free(mp->flows);
        free(mp->port_stats);
        free(mp->queue_stats);
        free(mp->meter_stats);
        break;
    }
    default:
        break;
    }
    memset(msg, 0, sizeof *msg);
}

int
ofmsg_encode_error_reply(enum oferr e, const uint8_t *request, size_t len,
                         struct buf *b)
{
    struct ofmsg err;
    ofmsg_init(&err, OFPT_ERROR, len >= OFP_HEADER_LEN ? ofmsg_xid(request) : 0);
    err.u.error.type = oferr_type(e);
    err.u.error.code = oferr_code(e);
    err.u.error.data = (uint8_t *) request;
    err.u.error.len = len < 64 ? len : 64;
    return ofmsg_encode(&err, b);
}
