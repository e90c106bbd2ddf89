/* flowtable.c: see flowtable.h.
 *
 * Layout: an open-addressing index (linear probing, power-of-two size, at
 * most three quarters full) of pointers to entries; an entry is one
 * allocation holding its hash, cookie, diff generation and the two byte
 * strings: the key (table, priority, canonical match) and the
 * instructions.  Removal re-inserts the rest of the probe run (no
 * tombstones).  A bridge holds tens of thousands of entries at 10 000
 * VMs, so an entry's header is kept to 28 bytes (FT_HEADER) before its
 * strings.
 *
 * A second index, by cookie (same scheme), holds the head of each cookie's
 * singly linked list of entries, so flowtable_sweep_cookies() visits only
 * the flows of the owners a diff covers: an owners' diff costs what those
 * owners have, not the size of the bridge (a cookie owns a handful of
 * flows per bridge, so unlinking walks its list).  Invariant: every entry
 * is on the list of its cookie, and a cookie has a slot while its list is
 * not empty. */
#include "ctrl/flowtable.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "ctrl/buf.h"

struct ft_entry {
    uint64_t cookie;
    struct ft_entry *cnext;         /* the cookie's list */
    uint32_t hash;
    uint32_t gen;
    uint16_t insts_len;
    uint16_t key_len;
    uint8_t data[];                 /* key, then instructions */
};

/* An entry's size before its strings (sizeof would add tail padding). */
#define FT_HEADER offsetof(struct ft_entry, data)

/* A cookie's slot in the cookie index: its list (the cookie is its
 * entries'). */
struct ft_cookie {
    struct ft_entry *head;          /* NULL: the slot is free */
};

struct flowtable {
    struct ft_entry **slots;
    size_t cap;                     /* power of two, or 0 */
    size_t n;
    struct ft_cookie *cookies;      /* the cookie index */
    size_t cookie_cap;              /* power of two, or 0 */
    size_t n_cookies;
    size_t bytes;
    uint32_t gen;
    struct buf key, insts;          /* scratch */
};

struct flowtable *
flowtable_create(void)
{
    struct flowtable *ft = calloc(1, sizeof *ft);
    if (ft) {
        buf_init(&ft->key);
        buf_init(&ft->insts);
    }
    return ft;
}

void
flowtable_clear(struct flowtable *ft)
{
    for (size_t i = 0; i < ft->cap; i++) {
        free(ft->slots[i]);
        ft->slots[i] = NULL;
    }
    if (ft->cookie_cap) {
        memset(ft->cookies, 0, ft->cookie_cap * sizeof *ft->cookies);
    }
    ft->n = 0;
    ft->n_cookies = 0;
    ft->bytes = 0;
}

static size_t
cookie_hash(uint64_t cookie, size_t cap)
{
    return (size_t) ((cookie * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

/* The slot of 'cookie' in the cookie index, or the free slot where it
 * would go (the index is not empty). */
static size_t
cookie_probe(const struct flowtable *ft, uint64_t cookie)
{
    size_t s = cookie_hash(cookie, ft->cookie_cap);
    while (ft->cookies[s].head && ft->cookies[s].head->cookie != cookie) {
        s = (s + 1) & (ft->cookie_cap - 1);
    }
    return s;
}

/* Makes room for one more cookie.  0 or ENOMEM. */
static int
cookie_grow(struct flowtable *ft)
{
    if (4 * (ft->n_cookies + 1) <= 3 * ft->cookie_cap) {
        return 0;
    }
    size_t cap = ft->cookie_cap ? 2 * ft->cookie_cap : 16;
    struct ft_cookie *v = calloc(cap, sizeof *v);
    if (!v) {
        return ENOMEM;
    }
    struct ft_cookie *old = ft->cookies;
    size_t old_cap = ft->cookie_cap;
    ft->cookies = v;
    ft->cookie_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].head) {
            ft->cookies[cookie_probe(ft, old[i].head->cookie)] = old[i];
        }
    }
    free(old);
    return 0;
}

/* Puts 'e' on its cookie's list (room was made by cookie_grow()). */
static void
cookie_link(struct flowtable *ft, struct ft_entry *e)
{
    struct ft_cookie *c = &ft->cookies[cookie_probe(ft, e->cookie)];
    if (!c->head) {
        ft->n_cookies++;
    }
    e->cnext = c->head;
    c->head = e;
}

/* Takes 'e' off its cookie's list, freeing the cookie's slot when the list
 * empties (the rest of the probe run is placed again). */
static void
cookie_unlink(struct flowtable *ft, struct ft_entry *e)
{
    size_t s = cookie_probe(ft, e->cookie);
    if (ft->cookies[s].head != e) {
        struct ft_entry *prev = ft->cookies[s].head;
        while (prev->cnext != e) {
            prev = prev->cnext;
        }
        prev->cnext = e->cnext;
        return;
    }
    ft->cookies[s].head = e->cnext;
    if (e->cnext) {
        return;
    }
    ft->n_cookies--;
    size_t mask = ft->cookie_cap - 1;
    for (size_t i = (s + 1) & mask; ft->cookies[i].head; i = (i + 1) & mask) {
        struct ft_cookie moved = ft->cookies[i];
        ft->cookies[i].head = NULL;
        ft->cookies[cookie_probe(ft, moved.head->cookie)] = moved;
    }
}

void
flowtable_destroy(struct flowtable *ft)
{
    if (!ft) {
        return;
    }
    flowtable_clear(ft);
    free(ft->slots);
    free(ft->cookies);
    buf_uninit(&ft->key);
    buf_uninit(&ft->insts);
    free(ft);
}

size_t
flowtable_count(const struct flowtable *ft)
{
    return ft->n;
}

size_t
flowtable_bytes(const struct flowtable *ft)
{
    return ft->bytes;
}

static int
cmp_u8(const void *a, const void *b)
{
    return (int) *(const uint8_t *) a - (int) *(const uint8_t *) b;
}

static uint32_t
fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = fnv64_bytes(FNV64_INIT, p, n);
    return (uint32_t) (h ^ h >> 32);
}

/* Encodes the identity into ft->key: table, priority, then the match with
 * its items in field order.  False if it does not encode. */
static bool
encode_key(struct flowtable *ft, uint8_t table, uint16_t priority,
           const struct ofmatch *match)
{
    struct ofmatch canon = *match;
    qsort(canon.order, canon.n, sizeof canon.order[0], cmp_u8);
    buf_clear(&ft->key);
    buf_put_u8(&ft->key, table);
    buf_put_u16(&ft->key, priority);
    ofmatch_encode(&canon, &ft->key);
    return !ft->key.failed && ft->key.len <= UINT16_MAX;
}

static bool
encode_insts(struct flowtable *ft, const struct ofinst *insts, size_t n)
{
    buf_clear(&ft->insts);
    ofaction_encode_insts(insts, n, &ft->insts);
    return !ft->insts.failed && ft->insts.len <= UINT16_MAX;
}

/* The slot holding the entry whose key is ft->key (hash 'h'), or the empty
 * slot where it would go. */
static size_t
probe(const struct flowtable *ft, uint32_t h)
{
    size_t s = h & (ft->cap - 1);
    for (; ft->slots[s]; s = (s + 1) & (ft->cap - 1)) {
        const struct ft_entry *e = ft->slots[s];
        if (e->hash == h && e->key_len == ft->key.len
            && !memcmp(e->data, ft->key.data, ft->key.len)) {
            break;
        }
    }
    return s;
}

static void
place(struct flowtable *ft, struct ft_entry *e)
{
    size_t s = e->hash & (ft->cap - 1);
    while (ft->slots[s]) {
        s = (s + 1) & (ft->cap - 1);
    }
    ft->slots[s] = e;
}

static int
grow(struct flowtable *ft)
{
    if (4 * (ft->n + 1) <= 3 * ft->cap) {
        return 0;
    }
    size_t cap = ft->cap ? 2 * ft->cap : 64;
    struct ft_entry **slots = calloc(cap, sizeof *slots);
    if (!slots) {
        return ENOMEM;
    }
    struct ft_entry **old = ft->slots;
    size_t old_cap = ft->cap;
    ft->slots = slots;
    ft->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i]) {
            place(ft, old[i]);
        }
    }
    free(old);
    return 0;
}

/* Stores the entry for ft->key with 'cookie' and the instructions in
 * ft->insts, replacing one of the same identity. */
static int
store(struct flowtable *ft, uint64_t cookie)
{
    if (grow(ft) || cookie_grow(ft)) {
        return ENOMEM;
    }
    uint32_t h = fnv1a(ft->key.data, ft->key.len);
    size_t s = probe(ft, h);
    struct ft_entry *old = ft->slots[s];
    if (old && old->cookie == cookie && old->insts_len == ft->insts.len
        && !memcmp(old->data + old->key_len, ft->insts.data, ft->insts.len)) {
        return 0;
    }
    size_t size = FT_HEADER + ft->key.len + ft->insts.len;
    struct ft_entry *e = malloc(size);
    if (!e) {
        return ENOMEM;
    }
    e->hash = h;
    e->cookie = cookie;
    e->gen = old ? old->gen : 0;
    e->key_len = (uint16_t) ft->key.len;
    e->insts_len = (uint16_t) ft->insts.len;
    memcpy(e->data, ft->key.data, ft->key.len);
    if (ft->insts.len) {
        memcpy(e->data + ft->key.len, ft->insts.data, ft->insts.len);
    }
    if (old) {
        ft->bytes -= FT_HEADER + old->key_len + old->insts_len;
        cookie_unlink(ft, old);
        free(old);
    } else {
        ft->n++;
    }
    ft->bytes += size;
    ft->slots[s] = e;
    cookie_link(ft, e);
    return 0;
}

int
flowtable_set(struct flowtable *ft, const struct ofmsg_flow_mod *fm)
{
    if (!encode_key(ft, fm->table_id, fm->priority, &fm->match)
        || !encode_insts(ft, fm->insts, fm->n_insts)) {
        return ENOMEM;
    }
    return store(ft, fm->cookie);
}

bool
flowtable_remove(struct flowtable *ft, uint8_t table, uint16_t priority,
                 const struct ofmatch *match)
{
    if (!ft->cap || !encode_key(ft, table, priority, match)) {
        return false;
    }
    size_t s = probe(ft, fnv1a(ft->key.data, ft->key.len));
    struct ft_entry *e = ft->slots[s];
    if (!e) {
        return false;
    }
    ft->bytes -= FT_HEADER + e->key_len + e->insts_len;
    cookie_unlink(ft, e);
    free(e);
    ft->slots[s] = NULL;
    ft->n--;
    /* Re-place the rest of the run so no probe stops early. */
    for (size_t i = (s + 1) & (ft->cap - 1); ft->slots[i]; i = (i + 1) & (ft->cap - 1)) {
        struct ft_entry *moved = ft->slots[i];
        ft->slots[i] = NULL;
        place(ft, moved);
    }
    return true;
}

int
flowtable_load(struct flowtable *ft, const struct offlow_stats *flows, size_t n)
{
    flowtable_clear(ft);
    for (size_t i = 0; i < n; i++) {
        const struct offlow_stats *f = &flows[i];
        if (!encode_key(ft, f->table_id, f->priority, &f->match)
            || !encode_insts(ft, f->insts, f->n_insts) || store(ft, f->cookie)) {
            flowtable_clear(ft);
            return ENOMEM;
        }
    }
    return 0;
}

void
flowtable_begin(struct flowtable *ft)
{
    ft->gen++;
}

/* Looks up ft->key (already encoded) and marks it; compares content. */
static enum flowtable_state
mark_encoded(struct flowtable *ft, uint64_t cookie)
{
    if (!ft->cap) {
        return FLOWTABLE_ABSENT;
    }
    struct ft_entry *e = ft->slots[probe(ft, fnv1a(ft->key.data, ft->key.len))];
    if (!e) {
        return FLOWTABLE_ABSENT;
    }
    e->gen = ft->gen;
    return e->cookie == cookie && e->insts_len == ft->insts.len
                   && !memcmp(e->data + e->key_len, ft->insts.data, ft->insts.len)
               ? FLOWTABLE_SAME : FLOWTABLE_DIFFERENT;
}

enum flowtable_state
flowtable_mark(struct flowtable *ft, const struct ofmsg_flow_mod *fm)
{
    if (!encode_key(ft, fm->table_id, fm->priority, &fm->match)
        || !encode_insts(ft, fm->insts, fm->n_insts)) {
        return FLOWTABLE_ABSENT;
    }
    return mark_encoded(ft, fm->cookie);
}

/* Appends to *dels the DELETE_STRICT of 'e'.  0 or ENOMEM. */
static int
sweep_one(const struct ft_entry *e, struct ofmsg **dels, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        struct ofmsg *grown = realloc(*dels, c * sizeof *grown);
        if (!grown) {
            return ENOMEM;
        }
        *dels = grown;
        *cap = c;
    }
    struct ofmsg *msg = &(*dels)[*n];
    struct ofmsg_flow_mod *fm = ofmsg_flow_mod_init(
        msg, OFPFC_DELETE_STRICT, e->data[0], (uint16_t) (e->data[1] << 8 | e->data[2]),
        e->cookie);
    struct pull pl;
    pull_init(&pl, e->data + 3, e->key_len - 3u);
    if (ofmatch_decode(&pl, &fm->match)) {
        return 0;                   /* cannot happen: we encoded it */
    }
    (*n)++;
    return 0;
}

int
flowtable_sweep(const struct flowtable *ft, flowtable_scope_fn *scope, void *aux,
                struct ofmsg **dels, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < ft->cap; i++) {
        const struct ft_entry *e = ft->slots[i];
        if (e && e->gen != ft->gen && (!scope || scope(aux, e->cookie))
            && sweep_one(e, dels, n, cap)) {
            return ENOMEM;
        }
    }
    return 0;
}

int
flowtable_sweep_cookies(const struct flowtable *ft, const uint64_t *cookies, size_t n_cookies,
                        struct ofmsg **dels, size_t *n, size_t *cap)
{
    for (size_t k = 0; ft->cookie_cap && k < n_cookies; k++) {
        if (k && cookies[k] == cookies[k - 1]) {
            continue;               /* each cookie once */
        }
        const struct ft_entry *e = ft->cookies[cookie_probe(ft, cookies[k])].head;
        for (; e; e = e->cnext) {
            if (e->gen != ft->gen && sweep_one(e, dels, n, cap)) {
                return ENOMEM;
            }
        }
    }
    return 0;
}

int
flowtable_compare(struct flowtable *ft, const struct offlow_stats *flows, size_t n,
                  size_t *missing, size_t *extra)
{
    *missing = *extra = 0;
    flowtable_begin(ft);
    for (size_t i = 0; i < n; i++) {
        const struct offlow_stats *f = &flows[i];
        if (!encode_key(ft, f->table_id, f->priority, &f->match)
            || !encode_insts(ft, f->insts, f->n_insts)) {
            return ENOMEM;
        }
        switch (mark_encoded(ft, f->cookie)) {
        case FLOWTABLE_ABSENT:
            (*extra)++;
            break;
        case FLOWTABLE_DIFFERENT:
            (*missing)++;           /* the bridge's content is not ours */
            break;
        case FLOWTABLE_SAME:
            break;
        }
    }
    for (size_t i = 0; i < ft->cap; i++) {
        if (ft->slots[i] && ft->slots[i]->gen != ft->gen) {
            (*missing)++;
        }
    }
    return 0;
}

static int
cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
    return (a > b) - (a < b);
}

int
flowtable_meters(const struct flowtable *ft, uint32_t **ids, size_t *n)
{
    uint32_t *v = NULL;
    size_t k = 0, cap = 0;
    *ids = NULL;
    *n = 0;
    for (size_t i = 0; i < ft->cap; i++) {
        const struct ft_entry *e = ft->slots[i];
        /* The instructions in wire form: type, length, then the body; a
         * meter instruction's body is its id. */
        for (size_t off = 0; e && off + 4 <= e->insts_len;) {
            const uint8_t *in = e->data + e->key_len + off;
            uint16_t type = (uint16_t) (in[0] << 8 | in[1]), len = (uint16_t) (in[2] << 8 | in[3]);
            if (len < 4 || off + len > e->insts_len) {
                break;
            }
            if (type == OFPIT_METER && len >= 8) {
                if (k == cap) {
                    size_t c = cap ? 2 * cap : 16;
                    uint32_t *g = realloc(v, c * sizeof *g);
                    if (!g) {
                        free(v);
                        return ENOMEM;
                    }
                    v = g;
                    cap = c;
                }
                v[k++] = (uint32_t) in[4] << 24 | (uint32_t) in[5] << 16
                         | (uint32_t) in[6] << 8 | in[7];
            }
            off += len;
        }
    }
    if (k) {
        qsort(v, k, sizeof *v, cmp_u32);
        size_t w = 1;
        for (size_t i = 1; i < k; i++) {
            if (v[i] != v[w - 1]) {
                v[w++] = v[i];
            }
        }
        k = w;
    }
    *ids = v;
    *n = k;
    return 0;
}
