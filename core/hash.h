/* hash.h: 64-bit FNV-1a, the one non-cryptographic hash of the tree:
 * representations' ETags (api/crud.c), skyctl's idempotency keys
 * (tools/skyctl/apply.c), the installed-flow index (ctrl/flowtable.c, folded
 * to 32 bits), what a VM port wants (ctrl/recon_ovsdb.c) and a host's port
 * list (ctrl/recon_lifecycle.c).
 *
 * Incremental: start from FNV64_INIT and feed bytes, strings or small
 * integers in order; a string is fed with a terminator byte so that
 * ("ab", "c") and ("a", "bc") sign differently.  Not for hash tables that
 * face untrusted keys (no seed), nor for anything security depends on. */
#ifndef SKYVISOR_CORE_HASH_H
#define SKYVISOR_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV64_INIT 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

/* 'h' fed the bytes p[0..n). */
static inline uint64_t
fnv64_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * FNV64_PRIME;
    }
    return h;
}

/* 'h' fed string 's' and then a 0xff terminator. */
static inline uint64_t
fnv64_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * FNV64_PRIME;
    }
    return (h ^ 0xff) * FNV64_PRIME;
}

/* 'h' fed the value 'v' as one unit. */
static inline uint64_t
fnv64_u64(uint64_t h, uint64_t v)
{
    return (h ^ v) * FNV64_PRIME;
}

#endif
