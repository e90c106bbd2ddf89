/* Unit tests for core/validate.c: table-driven accept/reject cases for every
 * value syntax the API checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/validate.h"

struct str_case {
    const char *in;
    bool ok;
};

#define CHECK_TABLE(FN, TABLE)                                                \
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {             \
        if (FN(TABLE[i].in) != TABLE[i].ok) {                                 \
            fail_msg("%s(\"%s\") should be %s", #FN, TABLE[i].in,             \
                     TABLE[i].ok ? "accepted" : "rejected");                  \
        }                                                                     \
    }

static void
test_names(void **state)
{
    (void) state;
    static const struct str_case t[] = {
        {"a", true}, {"aws-eu-1", true}, {"0x", true},
        {"", false}, {"-a", false}, {"a-", false}, {"A", false}, {"a_b", false},
        {"a.b", false}, {"a b", false},
        {"123e4567-e89b-12d3-a456-426614174000", false}, /* UUID-shaped */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
    };
    CHECK_TABLE(validate_name, t);
    assert_true(validate_name_len("a--b", 127));
    assert_false(validate_name_len("abc", 2));
}

static void
test_uuid_country_decimal(void **state)
{
    (void) state;
    static const struct str_case uuids[] = {
        {"123e4567-e89b-12d3-a456-426614174000", true},
        {"123E4567-e89b-12d3-a456-426614174000", false},
        {"123e4567e89b-12d3-a456-4266141740000", false}, {"", false},
    };
    CHECK_TABLE(validate_uuid, uuids);
    static const struct str_case countries[] = {
        {"DE", true}, {"PT", true}, {"de", false}, {"D", false}, {"DEU", false},
        {"D1", false},
    };
    CHECK_TABLE(validate_country, countries);
    static const struct str_case decimals[] = {
        {"0", true}, {"0.12", true}, {"123456789.123456", true},
        {"1234567890", false}, {"1.1234567", false}, {".5", false}, {"5.", false},
        {"-1", false}, {"+1", false}, {"1e3", false}, {" 1", false}, {"", false},
    };
    CHECK_TABLE(validate_decimal, decimals);
}

static bool
ipv4_ok(const char *s)
{
    return validate_ipv4(s, NULL);
}

static void
test_ipv4(void **state)
{
    (void) state;
    static const struct str_case t[] = {
        {"10.0.0.1", true}, {"255.255.255.255", true}, {"0.0.0.0", true},
        {"256.0.0.1", false}, {"10.0.0", false}, {"10.0.0.1.2", false},
        {"01.2.3.4", false}, {"1.2.3.4 ", false}, {" 1.2.3.4", false},
        {"1.2.3.-4", false}, {"", false}, {"a.b.c.d", false},
    };
    CHECK_TABLE(ipv4_ok, t);
    uint32_t a;
    assert_true(validate_ipv4("198.18.1.2", &a));
    assert_int_equal(a, 0xc6120102u);
}

static void
test_cidr_and_membership(void **state)
{
    (void) state;
    uint32_t net;
    unsigned int len;
    assert_true(validate_cidr("10.0.0.0/24", &net, &len));
    assert_int_equal(net, 0x0a000000u);
    assert_int_equal(len, 24);
    assert_false(validate_cidr("10.0.0.1/24", NULL, NULL)); /* host bits */
    assert_false(validate_cidr("10.0.0.0/7", NULL, NULL));
    assert_false(validate_cidr("10.0.0.0/31", NULL, NULL));
    assert_false(validate_cidr("10.0.0.0", NULL, NULL));
    assert_false(validate_cidr("10.0.0.0/024", NULL, NULL));
    /* Any prefix length, for allow lists. */
    uint32_t pnet;
    unsigned int plen;
    assert_true(validate_prefix("0.0.0.0/0", 0, 32, &pnet, &plen));
    assert_int_equal(plen, 0);
    assert_true(validate_prefix("192.0.2.7/32", 0, 32, &pnet, &plen));
    assert_int_equal(pnet, 0xc0000207u);
    assert_false(validate_prefix("1.0.0.0/0", 0, 32, NULL, NULL)); /* host bits */
    assert_false(validate_prefix("10.0.0.0/33", 0, 32, NULL, NULL));
    assert_true(validate_prefix("10.0.0.0/31", 0, 32, NULL, NULL));
    uint32_t ip;
    validate_ipv4("10.0.0.5", &ip);
    assert_true(validate_ip_in_subnet(ip, net, len));
    validate_ipv4("10.0.0.0", &ip);
    assert_false(validate_ip_in_subnet(ip, net, len)); /* network address */
    validate_ipv4("10.0.0.255", &ip);
    assert_false(validate_ip_in_subnet(ip, net, len)); /* broadcast */
    validate_ipv4("10.0.1.5", &ip);
    assert_false(validate_ip_in_subnet(ip, net, len));
}

static void
test_mac(void **state)
{
    (void) state;
    char canon[18];
    uint8_t m[6];
    assert_true(validate_mac("02:00:00:00:00:01", m, canon));
    assert_string_equal(canon, "02:00:00:00:00:01");
    assert_true(validate_mac("0A-1B-2C-3D-4E-5F", m, canon));
    assert_string_equal(canon, "0a:1b:2c:3d:4e:5f");
    assert_int_equal(m[5], 0x5f);
    static const char *const bad[] = {
        "01:00:5e:00:00:01", /* multicast */ "ff:ff:ff:ff:ff:ff",
        "00:00:00:00:00:00", "02:00:00:00:00", "02:00:00:00:00:0g",
        "02:00-00:00:00:01", "0200.0000.0001", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (validate_mac(bad[i], NULL, NULL)) {
            fail_msg("MAC %s should be rejected", bad[i]);
        }
    }
}

static bool
endpoint_any(const char *s)
{
    return validate_endpoint(s, true);
}

static bool
endpoint_tcp(const char *s)
{
    return validate_endpoint(s, false);
}

static void
test_endpoints_and_labels(void **state)
{
    (void) state;
    static const struct str_case any[] = {
        {"unix:/var/run/openvswitch/db.sock", true}, {"tcp:127.0.0.1:6640", true},
        {"unix:relative", false}, {"tcp:127.0.0.1", false}, {"tcp:127.0.0.1:0", false},
        {"tcp:127.0.0.1:65536", false}, {"ssl:1.2.3.4:6640", true}, {"tcp::6640", false},
        {"ssl:1.2.3.4", false}, {"ssl:1.2.3.4:0", false}, {"tls:1.2.3.4:6640", false},
        {"ssl:/x", false}, {"pssl:1.2.3.4:6640", false},
    };
    CHECK_TABLE(endpoint_any, any);
    static const struct str_case tcp[] = {
        {"tcp:10.0.0.1:6653", true}, {"unix:/x", false}, {"ssl:10.0.0.1:6653", true},
    };
    CHECK_TABLE(endpoint_tcp, tcp);
    static const struct str_case keys[] = {
        {"managed-by", true}, {"skyctl.io/file", true}, {"a", true},
        {"", false}, {"-a", false}, {"A", false}, {"a b", false},
    };
    CHECK_TABLE(validate_label_key, keys);
    assert_true(validate_label_value(""));
    assert_false(validate_label_value("a\nb"));
    assert_true(validate_idempotency_key("abc-123"));
    assert_false(validate_idempotency_key("has space"));
    assert_false(validate_idempotency_key(""));
    assert_true(validate_ifname("veth-vm1.0"));
    assert_false(validate_ifname("this-is-too-long0"));
}

static void
test_text(void **state)
{
    (void) state;
    static const struct str_case t[] = {
        {"eu-west-1", true}, {"Z\xc3\xbc" "rich", true}, {"\xe6\x9d\xb1\xe4\xba\xac", true},
        {"", false}, {"a\tb", false}, {"a\x7f", false},
        {"\xc2\x85", false},                        /* U+0085, a C1 control */
        {"\xff", false}, {"\xc3", false},             /* invalid, cut short */
        {"\xc0\xaf", false},                        /* overlong '/' */
        {"\xed\xa0\x80", false},                    /* a surrogate */
        {"abc\xe2\x80\xae" "exe.txt", false},          /* U+202E right-to-left override */
        {"\xe2\x80\xaa", false}, {"\xe2\x81\xa6", false}, {"\xe2\x81\xa9", false},
        {"\xe2\x80\xa9", true},                     /* U+2029 is not a bidi control */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (validate_text(t[i].in, 64) != t[i].ok) {
            fail_msg("validate_text case %zu should be %s", i,
                     t[i].ok ? "accepted" : "rejected");
        }
    }
    /* The limit counts characters, not bytes: 64 two-byte characters fit
     * in 64, 65 do not. */
    char buf[2 * 65 + 1];
    for (int i = 0; i < 65; i++) {
        memcpy(buf + 2 * i, "\xc3\xa9", 2);
    }
    buf[2 * 65] = '\0';
    assert_false(validate_text(buf, 64));
    buf[2 * 64] = '\0';
    assert_true(validate_text(buf, 64));
    assert_false(validate_label_value("\xe2\x80\xae" "evil"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_uuid_country_decimal),
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_cidr_and_membership),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_endpoints_and_labels),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
