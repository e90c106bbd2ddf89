/* packet.c: the text forms of a MAC address (see packet.h).  A scanner of
 * its own rather than sscanf("%x:..."), which takes leading spaces, signs,
 * "0x" and single digits. */
#include "core/packet.h"

#include <string.h>

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool
packet_parse_mac(const char *s, uint8_t mac[6])
{
    uint8_t m[6];
    if (!s || strlen(s) != 17 || (s[2] != ':' && s[2] != '-')) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
        if (hi < 0 || lo < 0 || (i < 5 && p[2] != s[2])) {
            return false;
        }
        m[i] = (uint8_t) (hi << 4 | lo);
    }
    memcpy(mac, m, 6);
    return true;
}

void
packet_format_mac(uint64_t mac, char out[18])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        unsigned int b = (unsigned int) (mac >> (40 - 8 * i)) & 255;
        out[3 * i] = digits[b >> 4];
        out[3 * i + 1] = digits[b & 15];
        out[3 * i + 2] = i < 5 ? ':' : '\0';
    }
}
