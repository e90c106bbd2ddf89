/* test_certname.c: core/certname.c, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "core/certname.h"

static void
test_names_host(void **state)
{
    (void) state;
    static const struct {
        const char *names[3];
        size_t n;
        const char *host;
        bool ok;
    } cases[] = {
        {{"h1"}, 1, "h1", true},
        {{"h1 id:0f3c-77"}, 1, "h1", true},             /* ovs-pki's form */
        {{"other", "h1 id:x"}, 2, "h1", true},          /* a SAN */
        {{"h1"}, 1, "h10", false},
        {{"h10"}, 1, "h1", false},                      /* no prefix match */
        {{"h1id:x"}, 1, "h1", false},
        {{"h1 ID:x"}, 1, "h1", false},
        {{"H1"}, 1, "h1", false},                       /* exact case */
        {{"x h1"}, 1, "h1", false},
        {{"h1"}, 0, "h1", false},                       /* no names */
        {{NULL, "h1"}, 2, "h1", true},
        {{""}, 1, "", false},                           /* an empty host never */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (certname_names_host(cases[i].names, cases[i].n, cases[i].host) != cases[i].ok) {
            fail_msg("case %zu: host %s", i, cases[i].host);
        }
    }
}

static void
test_refusal_text(void **state)
{
    (void) state;
    char buf[128];
    const char *two[] = {"h2 id:9", "h2 id:9", "alt"};
    certname_refusal(two, 3, "h1", buf, sizeof buf);
    assert_string_equal(buf, "certificate names \"h2 id:9\", \"alt\", not host \"h1\"");
    certname_refusal(NULL, 0, "h1", buf, sizeof buf);
    assert_string_equal(buf, "certificate names nothing, not host \"h1\"");
    /* Whatever a certificate holds, the text is printable ASCII. */
    const char *odd[] = {"\xc3\xa9vil\n\x7f"};
    certname_refusal(odd, 1, "h1", buf, sizeof buf);
    assert_string_equal(buf, "certificate names \"??vil??\", not host \"h1\"");
    /* Cut to the buffer, still terminated. */
    char small[20];
    certname_refusal(two, 3, "h1", small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "certificate names \"", 19);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_host),
        cmocka_unit_test(test_refusal_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
