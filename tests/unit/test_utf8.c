/* Unit tests for core/utf8.c: well-formedness by the Unicode table and the
 * sanitizer that keeps problem bodies encodable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/utf8.h"

static void
test_valid_table(void **state)
{
    (void) state;
    static const struct {
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain ascii", 11, true},
        {"caf\xc3\xa9", 5, true},                 /* U+00E9 */
        {"\xe2\x82\xac", 3, true},                /* U+20AC */
        {"\xf0\x9f\x98\x80", 4, true},            /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true},            /* U+10FFFF */
        {"a\0b", 3, true},                        /* NUL is a character */
        {"\xff", 1, false},
        {"\xc0\xaf", 2, false},                   /* overlong '/' */
        {"\xc1\xbf", 2, false},                   /* overlong */
        {"\xe0\x80\xaf", 3, false},               /* overlong */
        {"\xf0\x80\x80\xaf", 4, false},           /* overlong */
        {"\xed\xa0\x80", 3, false},               /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, false},           /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, false},
        {"\xc3", 1, false},                       /* cut short */
        {"\xe2\x82", 2, false},
        {"\xf0\x9f\x98", 3, false},
        {"\x80", 1, false},                       /* lone continuation */
        {"\xc3\x28", 2, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(utf8_valid(cases[i].s, cases[i].len), cases[i].ok);
    }
}

static void
test_sanitize_replaces(void **state)
{
    (void) state;
    char out[64];
    assert_int_equal(utf8_sanitize("a\xff" "b", 3, out, sizeof out), 5);
    assert_string_equal(out, "a\xef\xbf\xbd" "b");
    utf8_sanitize("x\0y", 3, out, sizeof out);
    assert_string_equal(out, "x\xef\xbf\xbdy");
    utf8_sanitize("\xe2\x82", 2, out, sizeof out);   /* truncated: two U+FFFD */
    assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd");
    utf8_sanitize("caf\xc3\xa9", 5, out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9");
    assert_true(utf8_valid(out, strlen(out)));
}

/* Cutting to the buffer never splits a character. */
static void
test_sanitize_cuts_at_boundaries(void **state)
{
    (void) state;
    const char *euros = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac";   /* 9 bytes */
    for (size_t cap = 1; cap <= 12; cap++) {
        char out[16];
        size_t n = utf8_sanitize(euros, 9, out, cap);
        assert_true(n < cap);
        assert_int_equal(n % 3, 0);
        assert_int_equal(strlen(out), n);
        assert_true(utf8_valid(out, n));
    }
    char one[1];
    assert_int_equal(utf8_sanitize("abc", 3, one, 1), 0);
    assert_string_equal(one, "");
}

static void
test_whole_len(void **state)
{
    (void) state;
    assert_int_equal(utf8_whole_len("ab\xe2\x82", 4), 2);
    assert_int_equal(utf8_whole_len("ab\xe2", 3), 2);
    assert_int_equal(utf8_whole_len("ab\xe2\x82\xac", 5), 5);
    assert_int_equal(utf8_whole_len("\xf0\x9f\x98", 3), 0);
    assert_int_equal(utf8_whole_len("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(utf8_whole_len("ab\x80", 3), 3);   /* ill-formed, not cut */
    assert_int_equal(utf8_whole_len("", 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_table),
        cmocka_unit_test(test_sanitize_replaces),
        cmocka_unit_test(test_sanitize_cuts_at_boundaries),
        cmocka_unit_test(test_whole_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
