/* flowtable.c: see flowtable.h.
 *
 * The pool: each distinct byte string (a key: table, priority, canonical
 * match; or an instruction list) is one allocation with its hash and a
 * reference count, found through an open-addressing index (linear
 * probing, power-of-two size, at most three quarters full; removal
 * re-places the rest of the probe run, so no tombstones).  A string is
 * freed when the last entry naming it goes.  Since strings are interned,
 * two entries have the same key or instructions exactly when they point
 * to the same string.
 *
 * A table: entries of 32 bytes (key, instructions, cookie, diff
 * generation, a link) in chunks of FT_CHUNK, named by their index, with a
 * free list through the link; an index by key (same scheme, slots holding
 * an entry's index plus one, probed by the key string's hash, compared by
 * pointer); and an index by cookie holding the head of each cookie's
 * singly linked list of entries, so flowtable_sweep_cookies() visits only
 * the flows of the owners a diff covers: an owners' diff costs what those
 * owners have, not the size of the bridge (a cookie owns a handful of
 * flows per bridge, so unlinking walks its list).  Invariants: every
 * entry in use is in the key index and on the list of its cookie; a
 * cookie has a slot while its list is not empty; an entry in use holds
 * one reference to each of its two strings. */
#include "ctrl/flowtable.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "ctrl/buf.h"

struct ft_str {
    uint32_t hash;
    uint32_t refs;
    uint16_t len;
    uint8_t data[];
};

/* A string's size before its bytes (sizeof would add tail padding). */
#define FT_STR_HEADER offsetof(struct ft_str, data)

struct flowtable_pool {
    struct ft_str **slots;
    size_t cap;                     /* power of two, or 0 */
    size_t n;
    size_t bytes;                   /* the strings' allocations */
};

struct ft_entry {
    const struct ft_str *key;       /* NULL: the entry is free */
    const struct ft_str *insts;
    uint64_t cookie;
    uint32_t gen;
    uint32_t next;                  /* the cookie's list, or the free list:
                                     * an index plus one, 0 ends it */
};

#define FT_CHUNK 256u               /* entries per chunk */

struct flowtable {
    struct flowtable_pool *pool;
    struct ft_entry **chunks;
    size_t n_chunks;
    uint32_t n_used;                /* entries ever handed out */
    uint32_t free_head;             /* index plus one, 0: none */
    uint32_t *slots;                /* key index: entry index plus one */
    size_t cap;                     /* power of two, or 0 */
    size_t n;
    uint32_t *cookies;              /* cookie index: list head plus one */
    size_t cookie_cap;              /* power of two, or 0 */
    size_t n_cookies;
    uint32_t gen;
    struct buf key, insts;          /* scratch */
};

/* ---- The pool. ---- */

struct flowtable_pool *
flowtable_pool_create(void)
{
    return calloc(1, sizeof(struct flowtable_pool));
}

void
flowtable_pool_destroy(struct flowtable_pool *pool)
{
    if (!pool) {
        return;
    }
    for (size_t i = 0; i < pool->cap; i++) {
        free(pool->slots[i]);
    }
    free(pool->slots);
    free(pool);
}

size_t
flowtable_pool_bytes(const struct flowtable_pool *pool)
{
    return pool->bytes + pool->cap * sizeof *pool->slots;
}

size_t
flowtable_pool_count(const struct flowtable_pool *pool)
{
    return pool->n;
}

static uint32_t
str_hash(const struct buf *b)
{
    uint64_t h = fnv64_bytes(FNV64_INIT, b->data, b->len);
    return (uint32_t) (h ^ h >> 32);
}

/* The slot of the string equal to 'b' (hash 'h'), or the free slot where
 * it would go (the index is not empty). */
static size_t
pool_probe(const struct flowtable_pool *pool, const struct buf *b, uint32_t h)
{
    size_t mask = pool->cap - 1, s = h & mask;
    for (; pool->slots[s]; s = (s + 1) & mask) {
        const struct ft_str *x = pool->slots[s];
        if (x->hash == h && x->len == b->len
            && (!b->len || !memcmp(x->data, b->data, b->len))) {
            break;
        }
    }
    return s;
}

/* The pooled string equal to 'b', or NULL. */
static const struct ft_str *
pool_find(const struct flowtable_pool *pool, const struct buf *b, uint32_t h)
{
    return pool->cap ? pool->slots[pool_probe(pool, b, h)] : NULL;
}

static void
pool_place(struct flowtable_pool *pool, struct ft_str *x)
{
    size_t mask = pool->cap - 1, s = x->hash & mask;
    while (pool->slots[s]) {
        s = (s + 1) & mask;
    }
    pool->slots[s] = x;
}

/* The pooled string equal to 'b', with one more reference: the caller owns
 * that reference.  NULL when memory runs out. */
static const struct ft_str *
pool_get(struct flowtable_pool *pool, const struct buf *b, uint32_t h)
{
    if (4 * (pool->n + 1) > 3 * pool->cap) {
        size_t cap = pool->cap ? 2 * pool->cap : 256;
        struct ft_str **slots = calloc(cap, sizeof *slots);
        if (!slots) {
            return NULL;
        }
        struct ft_str **old = pool->slots;
        size_t old_cap = pool->cap;
        pool->slots = slots;
        pool->cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i]) {
                pool_place(pool, old[i]);
            }
        }
        free(old);
    }
    size_t s = pool_probe(pool, b, h);
    struct ft_str *x = pool->slots[s];
    if (!x) {
        x = malloc(FT_STR_HEADER + b->len);
        if (!x) {
            return NULL;
        }
        x->hash = h;
        x->refs = 0;
        x->len = (uint16_t) b->len;
        if (b->len) {
            memcpy(x->data, b->data, b->len);
        }
        pool->slots[s] = x;
        pool->n++;
        pool->bytes += FT_STR_HEADER + b->len;
    }
    x->refs++;
    return x;
}

/* Gives back one reference to 'cx', freeing the string with its last. */
static void
pool_put(struct flowtable_pool *pool, const struct ft_str *cx)
{
    struct ft_str *x = (struct ft_str *) cx;
    if (--x->refs) {
        return;
    }
    size_t mask = pool->cap - 1, s = x->hash & mask;
    while (pool->slots[s] != x) {
        s = (s + 1) & mask;
    }
    pool->slots[s] = NULL;
    for (size_t i = (s + 1) & mask; pool->slots[i]; i = (i + 1) & mask) {
        struct ft_str *moved = pool->slots[i];
        pool->slots[i] = NULL;
        pool_place(pool, moved);
    }
    pool->n--;
    pool->bytes -= FT_STR_HEADER + x->len;
    free(x);
}

/* ---- Entries. ---- */

static struct ft_entry *
entry(const struct flowtable *ft, uint32_t i)
{
    return &ft->chunks[i / FT_CHUNK][i % FT_CHUNK];
}

/* A free entry's index, or UINT32_MAX when memory runs out. */
static uint32_t
entry_alloc(struct flowtable *ft)
{
    if (ft->free_head) {
        uint32_t i = ft->free_head - 1;
        ft->free_head = entry(ft, i)->next;
        return i;
    }
    if (ft->n_used == ft->n_chunks * FT_CHUNK) {
        if (ft->n_used >= UINT32_MAX - FT_CHUNK) {
            return UINT32_MAX;
        }
        struct ft_entry **chunks = realloc(ft->chunks, (ft->n_chunks + 1) * sizeof *chunks);
        if (!chunks) {
            return UINT32_MAX;
        }
        ft->chunks = chunks;
        if (!(chunks[ft->n_chunks] = malloc(FT_CHUNK * sizeof **chunks))) {
            return UINT32_MAX;
        }
        ft->n_chunks++;
    }
    return ft->n_used++;
}

/* Gives entry 'i' and its references back. */
static void
entry_free(struct flowtable *ft, uint32_t i)
{
    struct ft_entry *e = entry(ft, i);
    pool_put(ft->pool, e->key);
    pool_put(ft->pool, e->insts);
    e->key = e->insts = NULL;
    e->next = ft->free_head;
    ft->free_head = i + 1;
}

struct flowtable *
flowtable_create(struct flowtable_pool *pool)
{
    struct flowtable *ft = calloc(1, sizeof *ft);
    if (ft) {
        ft->pool = pool;
        buf_init(&ft->key);
        buf_init(&ft->insts);
    }
    return ft;
}

void
flowtable_clear(struct flowtable *ft)
{
    for (uint32_t i = 0; i < ft->n_used; i++) {
        struct ft_entry *e = entry(ft, i);
        if (e->key) {
            pool_put(ft->pool, e->key);
            pool_put(ft->pool, e->insts);
        }
    }
    for (size_t c = 0; c < ft->n_chunks; c++) {
        free(ft->chunks[c]);
    }
    free(ft->chunks);
    ft->chunks = NULL;
    ft->n_chunks = 0;
    ft->n_used = 0;
    ft->free_head = 0;
    if (ft->cap) {
        memset(ft->slots, 0, ft->cap * sizeof *ft->slots);
    }
    if (ft->cookie_cap) {
        memset(ft->cookies, 0, ft->cookie_cap * sizeof *ft->cookies);
    }
    ft->n = 0;
    ft->n_cookies = 0;
}

/* ---- The cookie index. ---- */

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
    size_t mask = ft->cookie_cap - 1, s = cookie_hash(cookie, ft->cookie_cap);
    while (ft->cookies[s] && entry(ft, ft->cookies[s] - 1)->cookie != cookie) {
        s = (s + 1) & mask;
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
    uint32_t *v = calloc(cap, sizeof *v);
    if (!v) {
        return ENOMEM;
    }
    uint32_t *old = ft->cookies;
    size_t old_cap = ft->cookie_cap;
    ft->cookies = v;
    ft->cookie_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i]) {
            ft->cookies[cookie_probe(ft, entry(ft, old[i] - 1)->cookie)] = old[i];
        }
    }
    free(old);
    return 0;
}

/* Puts entry 'i' on its cookie's list (room was made by cookie_grow()). */
static void
cookie_link(struct flowtable *ft, uint32_t i)
{
    struct ft_entry *e = entry(ft, i);
    uint32_t *head = &ft->cookies[cookie_probe(ft, e->cookie)];
    if (!*head) {
        ft->n_cookies++;
    }
    e->next = *head;
    *head = i + 1;
}

/* Takes entry 'i' off its cookie's list, freeing the cookie's slot when
 * the list empties (the rest of the probe run is placed again). */
static void
cookie_unlink(struct flowtable *ft, uint32_t i)
{
    struct ft_entry *e = entry(ft, i);
    size_t s = cookie_probe(ft, e->cookie);
    if (ft->cookies[s] != i + 1) {
        struct ft_entry *prev = entry(ft, ft->cookies[s] - 1);
        while (prev->next != i + 1) {
            prev = entry(ft, prev->next - 1);
        }
        prev->next = e->next;
        return;
    }
    ft->cookies[s] = e->next;
    if (e->next) {
        return;
    }
    ft->n_cookies--;
    size_t mask = ft->cookie_cap - 1;
    for (size_t k = (s + 1) & mask; ft->cookies[k]; k = (k + 1) & mask) {
        uint32_t moved = ft->cookies[k];
        ft->cookies[k] = 0;
        ft->cookies[cookie_probe(ft, entry(ft, moved - 1)->cookie)] = moved;
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
    return ft->n_chunks * FT_CHUNK * sizeof(struct ft_entry)
           + ft->n_chunks * sizeof *ft->chunks + ft->cap * sizeof *ft->slots
           + ft->cookie_cap * sizeof *ft->cookies;
}

static int
cmp_u8(const void *a, const void *b)
{
    return (int) *(const uint8_t *) a - (int) *(const uint8_t *) b;
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

/* The key index's slot holding the entry whose key is 'key', or the empty
 * slot where it would go (the index is not empty). */
static size_t
probe(const struct flowtable *ft, const struct ft_str *key)
{
    size_t mask = ft->cap - 1, s = key->hash & mask;
    while (ft->slots[s] && entry(ft, ft->slots[s] - 1)->key != key) {
        s = (s + 1) & mask;
    }
    return s;
}

static void
place(struct flowtable *ft, uint32_t slot_value)
{
    size_t mask = ft->cap - 1, s = entry(ft, slot_value - 1)->key->hash & mask;
    while (ft->slots[s]) {
        s = (s + 1) & mask;
    }
    ft->slots[s] = slot_value;
}

static int
grow(struct flowtable *ft)
{
    if (4 * (ft->n + 1) <= 3 * ft->cap) {
        return 0;
    }
    size_t cap = ft->cap ? 2 * ft->cap : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots) {
        return ENOMEM;
    }
    uint32_t *old = ft->slots;
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

/* The entry whose key is ft->key, or NULL (*slot: its slot). */
static struct ft_entry *
lookup(const struct flowtable *ft, size_t *slot)
{
    const struct ft_str *key = ft->cap ? pool_find(ft->pool, &ft->key, str_hash(&ft->key)) : NULL;
    if (!key) {
        return NULL;
    }
    size_t s = probe(ft, key);
    *slot = s;
    return ft->slots[s] ? entry(ft, ft->slots[s] - 1) : NULL;
}

/* True if 'e' has 'cookie' and the instructions in ft->insts. */
static bool
same_content(const struct flowtable *ft, const struct ft_entry *e, uint64_t cookie)
{
    return e->cookie == cookie
           && e->insts == pool_find(ft->pool, &ft->insts, str_hash(&ft->insts));
}

/* Stores the entry for ft->key with 'cookie' and the instructions in
 * ft->insts, replacing one of the same identity. */
static int
store(struct flowtable *ft, uint64_t cookie)
{
    if (grow(ft) || cookie_grow(ft)) {
        return ENOMEM;
    }
    size_t s;
    struct ft_entry *old = lookup(ft, &s);
    if (old && same_content(ft, old, cookie)) {
        return 0;
    }
    const struct ft_str *insts = pool_get(ft->pool, &ft->insts, str_hash(&ft->insts));
    if (!insts) {
        return ENOMEM;
    }
    if (old) {
        uint32_t i = ft->slots[s] - 1;
        pool_put(ft->pool, old->insts);
        old->insts = insts;
        if (old->cookie != cookie) {
            cookie_unlink(ft, i);
            old->cookie = cookie;
            cookie_link(ft, i);
        }
        return 0;
    }
    const struct ft_str *key = pool_get(ft->pool, &ft->key, str_hash(&ft->key));
    uint32_t i = key ? entry_alloc(ft) : UINT32_MAX;
    if (i == UINT32_MAX) {
        if (key) {
            pool_put(ft->pool, key);
        }
        pool_put(ft->pool, insts);
        return ENOMEM;
    }
    struct ft_entry *e = entry(ft, i);
    e->key = key;
    e->insts = insts;
    e->cookie = cookie;
    e->gen = 0;
    ft->slots[probe(ft, key)] = i + 1;
    ft->n++;
    cookie_link(ft, i);
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
    size_t s;
    if (!encode_key(ft, table, priority, match) || !lookup(ft, &s)) {
        return false;
    }
    uint32_t i = ft->slots[s] - 1;
    cookie_unlink(ft, i);
    ft->slots[s] = 0;
    ft->n--;
    /* Re-place the rest of the run so no probe stops early. */
    size_t mask = ft->cap - 1;
    for (size_t k = (s + 1) & mask; ft->slots[k]; k = (k + 1) & mask) {
        uint32_t moved = ft->slots[k];
        ft->slots[k] = 0;
        place(ft, moved);
    }
    entry_free(ft, i);
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
    size_t s;
    struct ft_entry *e = lookup(ft, &s);
    if (!e) {
        return FLOWTABLE_ABSENT;
    }
    e->gen = ft->gen;
    return same_content(ft, e, cookie) ? FLOWTABLE_SAME : FLOWTABLE_DIFFERENT;
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
    const uint8_t *k = e->key->data;
    struct ofmsg *msg = &(*dels)[*n];
    struct ofmsg_flow_mod *fm = ofmsg_flow_mod_init(
        msg, OFPFC_DELETE_STRICT, k[0], (uint16_t) (k[1] << 8 | k[2]), e->cookie);
    struct pull pl;
    pull_init(&pl, k + 3, e->key->len - 3u);
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
    for (uint32_t i = 0; i < ft->n_used; i++) {
        const struct ft_entry *e = entry(ft, i);
        if (e->key && e->gen != ft->gen && (!scope || scope(aux, e->cookie))
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
        uint32_t i = ft->cookies[cookie_probe(ft, cookies[k])];
        for (; i; i = entry(ft, i - 1)->next) {
            const struct ft_entry *e = entry(ft, i - 1);
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
    for (uint32_t i = 0; i < ft->n_used; i++) {
        const struct ft_entry *e = entry(ft, i);
        if (e->key && e->gen != ft->gen) {
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
    for (uint32_t i = 0; i < ft->n_used; i++) {
        const struct ft_str *insts = entry(ft, i)->insts;
        /* The instructions in wire form: type, length, then the body; a
         * meter instruction's body is its id. */
        for (size_t off = 0; insts && off + 4 <= insts->len;) {
            const uint8_t *in = insts->data + off;
            uint16_t type = (uint16_t) (in[0] << 8 | in[1]), len = (uint16_t) (in[2] << 8 | in[3]);
            if (len < 4 || off + len > insts->len) {
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
