/* xidsnap.c: see xidsnap.h. */
#include "core/xidsnap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reads decimal digits at *p (at least one, no leading zero unless the
 * number is 0, at most INT64_MAX) and advances *p past them. */
static bool
read_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        unsigned int d = (unsigned int) (s[n] - '0');
        if (n == 19 || v > (UINT64_C(0x7fffffffffffffff) - d) / 10) {
            return false;
        }
        v = v * 10 + d;
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0')) {
        return false;
    }
    *out = v;
    *p = s + n;
    return true;
}

bool
xidsnap_parse_xid(const char *text, uint64_t *xid)
{
    const char *p = text;
    uint64_t v;
    if (!text || !read_u64(&p, &v) || *p || v == 0) {
        return false;
    }
    *xid = v;
    return true;
}

void
xidsnap_uninit(struct xidsnap *s)
{
    free(s->xip);
    memset(s, 0, sizeof *s);
}

int
xidsnap_parse(const char *text, struct xidsnap *out)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    if (!p || !read_u64(&p, &out->xmin) || *p++ != ':' || !read_u64(&p, &out->xmax)
        || *p++ != ':' || out->xmin > out->xmax) {
        return EINVAL;
    }
    size_t cap = 1;
    for (const char *c = p; *c; c++) {
        cap += *c == ',';
    }
    if (*p && !(out->xip = calloc(cap, sizeof *out->xip))) {
        return ENOMEM;
    }
    while (*p) {
        uint64_t x;
        if (!read_u64(&p, &x) || x < out->xmin || x >= out->xmax
            || (*p && (*p != ',' || !*++p))) {
            xidsnap_uninit(out);
            return EINVAL;
        }
        out->xip[out->n_xip++] = x;
    }
    return 0;
}

bool
xidsnap_sees(const struct xidsnap *s, uint64_t xid)
{
    if (xid < s->xmin) {
        return true;
    }
    if (xid >= s->xmax) {
        return false;
    }
    for (size_t i = 0; i < s->n_xip; i++) {
        if (s->xip[i] == xid) {
            return false;
        }
    }
    return true;
}
