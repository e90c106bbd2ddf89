/* utf8.c: see utf8.h.  The decoder follows the table of well-formed byte
 * sequences in Unicode 15, section 3.9 (table 3-7): the second byte's range
 * depends on the first, which is what rules out overlong forms, surrogates
 * and code points above U+10FFFF without decoding the value. */
#include "core/utf8.h"

#include <string.h>

size_t
utf8_seq_len(const unsigned char *s, size_t len)
{
    if (len == 0) {
        return 0;
    }
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;   /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (!n) {
            return false;
        }
        i += n;
    }
    return true;
}

size_t
utf8_whole_len(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t i = len;
    while (i > 0 && len - i < 3 && (p[i - 1] & 0xc0) == 0x80) {
        i--;                            /* back over continuation bytes */
    }
    if (i == 0 || p[i - 1] < 0xc2 || p[i - 1] > 0xf4) {
        return len;                     /* no lead byte: nothing was cut */
    }
    size_t want = p[i - 1] >= 0xf0 ? 4 : p[i - 1] >= 0xe0 ? 3 : 2;
    return len - (i - 1) < want ? i - 1 : len;
}

size_t
utf8_sanitize(const char *s, size_t len, char *out, size_t cap)
{
    static const char replacement[] = "\xef\xbf\xbd";   /* U+FFFD */
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);
        const char *from = s + i;
        size_t take = n;
        if (!n || p[i] == 0) {
            from = replacement;
            take = 3;
            n = 1;
        }
        if (o + take >= cap) {
            break;
        }
        memcpy(out + o, from, take);
        o += take;
        i += n;
    }
    out[o] = '\0';
    return o;
}
