/* Unit tests for core/packet.{h,c}: a MAC's wire bytes, text and number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/packet.h"

static void
test_bytes(void **state)
{
    (void) state;
    uint8_t b[8] = {0xee, 0, 0, 0, 0, 0, 0, 0xee};
    packet_put_mac(b + 1, 0xffff0a1b2c3d4e5full);   /* only the low 48 bits */
    static const uint8_t want[8] = {0xee, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0xee};
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(packet_get_mac(b + 1), 0x0a1b2c3d4e5full);
    packet_put_mac(b + 1, ETH_MAC_BROADCAST);
    assert_int_equal(packet_get_mac(b + 1), ETH_MAC_BROADCAST);
    assert_true(ETH_MAC_LLDP & ETH_MAC_GROUP_BIT);
}

static const struct {
    const char *text;
    bool ok;
    uint64_t mac;
} parses[] = {
    {"02:00:00:00:00:05", true, 0x020000000005ull},
    {"AA-bb-CC-dd-EE-ff", true, 0xaabbccddeeffull},
    {"ff:ff:ff:ff:ff:ff", true, ETH_MAC_BROADCAST},
    {"00:00:00:00:00:00", true, 0},
    {"02:00:00:00:00:5", false, 0},
    {"02:00:00:00:00:055", false, 0},
    {"02:00-00:00:00:05", false, 0},
    {"02.00.00.00.00.05", false, 0},
    {"2:0:0:0:0:5", false, 0},
    {" 2:00:00:00:00:05", false, 0},
    {"0x:00:00:00:00:05", false, 0},
    {"02:00:00:00:00:g5", false, 0},
    {"", false, 0},
};

static void
test_parse(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof parses / sizeof parses[0]; i++) {
        uint8_t m[6] = {1, 2, 3, 4, 5, 6};
        bool ok = packet_parse_mac(parses[i].text, m);
        if (ok != parses[i].ok) {
            fail_msg("%s: %d", parses[i].text, ok);
        }
        uint64_t want = ok ? parses[i].mac : 0x010203040506ull;   /* untouched */
        if (packet_get_mac(m) != want) {
            fail_msg("%s: %012llx", parses[i].text, (unsigned long long) packet_get_mac(m));
        }
    }
    assert_false(packet_parse_mac(NULL, NULL));
}

static void
test_format(void **state)
{
    (void) state;
    char s[18];
    packet_format_mac(0x0a1b2c3d4e5full, s);
    assert_string_equal(s, "0a:1b:2c:3d:4e:5f");
    packet_format_mac(0xffffffffffffffffull, s);    /* only the low 48 bits */
    assert_string_equal(s, "ff:ff:ff:ff:ff:ff");
    uint8_t m[6];
    assert_true(packet_parse_mac("AA-BB-CC-00-11-22", m));
    packet_format_mac(packet_get_mac(m), s);
    assert_string_equal(s, "aa:bb:cc:00:11:22");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
