/* buf.c: see buf.h. */
#include "ctrl/buf.h"

#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b)
{
    memset(b, 0, sizeof *b);
}

void
buf_uninit(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void
buf_clear(struct buf *b)
{
    b->len = 0;
    b->failed = false;
}

/* Makes room for 'n' more bytes and returns where they go (uninitialised),
 * or NULL once an allocation has failed. */
static uint8_t *
buf_grow(struct buf *b, size_t n)
{
    if (b->failed) {
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) {
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

uint8_t *
buf_put_zeros(struct buf *b, size_t n)
{
    uint8_t *p = buf_grow(b, n);
    if (p && n) {
        memset(p, 0, n);
    }
    return p;
}

uint8_t *
buf_put_uninit(struct buf *b, size_t n)
{
    return buf_grow(b, n);
}

void
buf_put(struct buf *b, const void *src, size_t n)
{
    uint8_t *p = buf_grow(b, n);
    if (p && n) {
        memcpy(p, src, n);
    }
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}

void
buf_put_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t) (v >> 8), (uint8_t) v};
    buf_put(b, x, 2);
}

void
buf_put_u32(struct buf *b, uint32_t v)
{
    buf_put_u16(b, (uint16_t) (v >> 16));
    buf_put_u16(b, (uint16_t) v);
}

void
buf_put_u64(struct buf *b, uint64_t v)
{
    buf_put_u32(b, (uint32_t) (v >> 32));
    buf_put_u32(b, (uint32_t) v);
}

void
buf_pad_to(struct buf *b, size_t start, size_t align)
{
    size_t used = b->len - start;
    size_t pad = (align - used % align) % align;
    buf_put_zeros(b, pad);
}

void
buf_patch_u16(struct buf *b, size_t at, uint16_t v)
{
    if (!b->failed && at + 2 <= b->len) {
        b->data[at] = (uint8_t) (v >> 8);
        b->data[at + 1] = (uint8_t) v;
    }
}

const uint8_t *
pull_bytes(struct pull *pl, size_t n)
{
    if (pl->left < n) {
        return NULL;
    }
    const uint8_t *p = pl->p;
    pl->p += n;
    pl->left -= n;
    return p;
}

bool
pull_u8(struct pull *pl, uint8_t *v)
{
    const uint8_t *p = pull_bytes(pl, 1);
    if (p) {
        *v = p[0];
    }
    return p != NULL;
}

bool
pull_u16(struct pull *pl, uint16_t *v)
{
    const uint8_t *p = pull_bytes(pl, 2);
    if (p) {
        *v = get_be16(p);
    }
    return p != NULL;
}

bool
pull_u32(struct pull *pl, uint32_t *v)
{
    const uint8_t *p = pull_bytes(pl, 4);
    if (p) {
        *v = get_be32(p);
    }
    return p != NULL;
}

bool
pull_u64(struct pull *pl, uint64_t *v)
{
    const uint8_t *p = pull_bytes(pl, 8);
    if (p) {
        *v = (uint64_t) get_be32(p) << 32 | get_be32(p + 4);
    }
    return p != NULL;
}

bool
pull_skip(struct pull *pl, size_t n)
{
    return pull_bytes(pl, n) != NULL;
}

bool
pull_sub(struct pull *pl, size_t n, struct pull *sub)
{
    const uint8_t *p = pull_bytes(pl, n);
    if (p) {
        pull_init(sub, p, n);
    }
    return p != NULL;
}
