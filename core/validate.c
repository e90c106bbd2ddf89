/* validate.c: see validate.h.  Hand-written scanners rather than sscanf:
 * sscanf accepts leading spaces, signs and overflow silently, which is how
 * "1.2.3.4 " or "+80" sneak past an API. */
#include "core/validate.h"

#include "core/packet.h"
#include "core/utf8.h"

#include <string.h>

static bool
is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
validate_uuid(const char *s)
{
    if (strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool
validate_name_len(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return !validate_uuid(s);
}

bool
validate_name(const char *s)
{
    return validate_name_len(s, 63);
}

bool
validate_country(const char *s)
{
    return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A'
           && s[1] <= 'Z';
}

bool
validate_decimal(const char *s)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (int_digits < 1 || int_digits > 9) {
        return false;
    }
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (frac_digits < 1 || frac_digits > 6) {
            return false;
        }
    }
    return s[i] == '\0';
}

bool
validate_text(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t left = strlen(s), chars = 0;
    while (left) {
        size_t n = utf8_seq_len(p, left);
        if (!n || ++chars > max) {
            return false;
        }
        uint32_t c = n == 1 ? p[0] : p[0] & (0x7fu >> n);
        for (size_t i = 1; i < n; i++) {
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f)
            /* Bidirectional embeddings, overrides and isolates: they make
             * text display as something other than what it is. */
            || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
            return false;
        }
        p += n;
        left -= n;
    }
    return chars >= 1;
}

bool
validate_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 15) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* Parses a decimal number without sign or leading zeros (except "0") of at
 * most 'maxval' at *sp; advances *sp. */
static bool
parse_uint(const char **sp, unsigned long maxval, unsigned long *out)
{
    const char *s = *sp;
    unsigned long v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        v = v * 10 + (unsigned long) (s[n] - '0');
        if (v > maxval || n > 9) {
            return false;
        }
        n++;
    }
    if (n == 0 || (n > 1 && s[0] == '0')) {
        return false;
    }
    *sp = s + n;
    *out = v;
    return true;
}

/* Parses a dotted quad at *sp, advancing past it. */
static bool
parse_ipv4(const char **sp, uint32_t *addr)
{
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        unsigned long octet;
        if (i > 0) {
            if (**sp != '.') {
                return false;
            }
            (*sp)++;
        }
        if (!parse_uint(sp, 255, &octet)) {
            return false;
        }
        a = (a << 8) | (uint32_t) octet;
    }
    *addr = a;
    return true;
}

bool
validate_ipv4(const char *s, uint32_t *addr)
{
    uint32_t a;
    if (!parse_ipv4(&s, &a) || *s != '\0') {
        return false;
    }
    if (addr) {
        *addr = a;
    }
    return true;
}

bool
validate_prefix(const char *s, unsigned int min_len, unsigned int max_len,
                uint32_t *net, unsigned int *len)
{
    uint32_t a;
    unsigned long l;
    if (!parse_ipv4(&s, &a) || *s++ != '/' || !parse_uint(&s, 32, &l)
        || *s != '\0' || l < min_len || l > max_len) {
        return false;
    }
    uint32_t mask = l ? 0xffffffffu << (32 - l) : 0;
    if (a & ~mask) {
        return false;
    }
    if (net) {
        *net = a;
    }
    if (len) {
        *len = (unsigned int) l;
    }
    return true;
}

bool
validate_cidr(const char *s, uint32_t *net, unsigned int *len)
{
    return validate_prefix(s, 8, 30, net, len);
}

bool
validate_ip_in_subnet(uint32_t addr, uint32_t net, unsigned int len)
{
    if (len < 1 || len > 30) {
        return false;
    }
    uint32_t mask = 0xffffffffu << (32 - len);
    if ((addr & mask) != net) {
        return false;
    }
    uint32_t host = addr & ~mask;
    return host != 0 && host != ~mask;
}

bool
validate_mac(const char *s, uint8_t mac[6], char canon[18])
{
    uint8_t m[6];
    if (!packet_parse_mac(s, m)) {
        return false;
    }
    uint64_t v = packet_get_mac(m);
    if (v & ETH_MAC_GROUP_BIT) {
        return false; /* multicast or broadcast */
    }
    if (!v) {
        return false;
    }
    if (mac) {
        memcpy(mac, m, 6);
    }
    if (canon) {
        packet_format_mac(v, canon);
    }
    return true;
}

bool
validate_endpoint(const char *s, bool allow_unix)
{
    if (!strncmp(s, "unix:", 5)) {
        return allow_unix && s[5] == '/' && validate_text(s + 5, 200);
    }
    if (strncmp(s, "tcp:", 4) && strncmp(s, "ssl:", 4)) {
        return false;
    }
    const char *p = s + 4;
    uint32_t a;
    unsigned long port;
    return parse_ipv4(&p, &a) && *p++ == ':' && parse_uint(&p, 65535, &port)
           && port > 0 && *p == '\0';
}

bool
validate_label_key(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_alnum(s[i]) && !strchr("._/-", s[i])) {
            return false;
        }
    }
    return true;
}

bool
validate_label_value(const char *s)
{
    return s[0] == '\0' || validate_text(s, 255);
}

bool
validate_idempotency_key(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 255) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}
