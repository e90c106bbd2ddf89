/* buf.h: bounded byte buffers for the wire codecs.
 *
 * Two halves, in the spirit of Open vSwitch's ofpbuf:
 *   struct buf   a growable output buffer; put_*() append big-endian
 *                integers and bytes.  Allocation failure sets 'failed' and
 *                turns every later put into a no-op, so encoders check once
 *                at the end instead of after every put.
 *   struct pull  a read cursor over a borrowed, const byte span.  Every
 *                pull_*() fails (returns false, or NULL) when fewer bytes
 *                remain than it needs, and never reads past the end; a
 *                failed pull leaves the cursor where it was.
 * Decoders only ever read through a pull, which is what makes a truncated
 * or lying message harmless. */
#ifndef SKYVISOR_CTRL_BUF_H
#define SKYVISOR_CTRL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;      /* owned, malloc'ed */
    size_t len;
    size_t cap;
    bool failed;        /* an allocation failed; contents are unusable */
};

void buf_init(struct buf *);
void buf_uninit(struct buf *);
void buf_clear(struct buf *);
/* Appends 'n' bytes and returns a pointer to them (zeroed), or NULL if the
 * buffer has failed.  The pointer is valid until the next put. */
uint8_t *buf_put_zeros(struct buf *, size_t n);
/* The same, the bytes left uninitialised: room to receive into (a socket
 * read of 64 KiB need not clear them first). */
uint8_t *buf_put_uninit(struct buf *, size_t n);
void buf_put(struct buf *, const void *p, size_t n);
void buf_put_u8(struct buf *, uint8_t);
void buf_put_u16(struct buf *, uint16_t);
void buf_put_u32(struct buf *, uint32_t);
void buf_put_u64(struct buf *, uint64_t);
/* Pads with zeros up to a multiple of 'align' bytes since 'start'. */
void buf_pad_to(struct buf *, size_t start, size_t align);
/* Writes a big-endian u16 at offset 'at' (an earlier put). */
void buf_patch_u16(struct buf *, size_t at, uint16_t);

struct pull {
    const uint8_t *p;
    size_t left;
};

static inline void
pull_init(struct pull *pl, const void *p, size_t n)
{
    pl->p = p;
    pl->left = n;
}

/* Returns a pointer to the next 'n' bytes and advances, or NULL. */
const uint8_t *pull_bytes(struct pull *, size_t n);
bool pull_u8(struct pull *, uint8_t *);
bool pull_u16(struct pull *, uint16_t *);
bool pull_u32(struct pull *, uint32_t *);
bool pull_u64(struct pull *, uint64_t *);
/* Skips 'n' bytes (padding); false if fewer remain. */
bool pull_skip(struct pull *, size_t n);
/* Splits off the next 'n' bytes as a sub-cursor. */
bool pull_sub(struct pull *, size_t n, struct pull *sub);

static inline uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

#endif
