/* Unit tests for core/error.c: the catalog is complete and consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/error.h"

/* Every row has a 4xx/5xx status (but OK), a non-empty slug made of
 * [a-z0-9-] ("invalid-utf8") and a title; slugs are unique. */
static void
test_catalog_rows(void **state)
{
    (void) state;
    assert_int_equal(error_http_status(SVE_OK), 200);
    for (int e = 1; e < SVE__COUNT; e++) {
        unsigned int st = error_http_status((enum sv_error) e);
        assert_true(st >= 400 && st <= 599);
        const char *slug = error_slug((enum sv_error) e);
        assert_true(strlen(slug) > 0);
        assert_true(strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(slug));
        assert_true(strlen(error_title((enum sv_error) e)) > 0);
        for (int f = 0; f < e; f++) {
            assert_string_not_equal(slug, error_slug((enum sv_error) f));
        }
    }
}

static void
test_specific_statuses(void **state)
{
    (void) state;
    assert_int_equal(error_http_status(SVE_MALFORMED_JSON), 400);
    assert_int_equal(error_http_status(SVE_UNAUTHORIZED), 401);
    assert_int_equal(error_http_status(SVE_NOT_FOUND), 404);
    assert_int_equal(error_http_status(SVE_METHOD_NOT_ALLOWED), 405);
    assert_int_equal(error_http_status(SVE_PRECONDITION_FAILED), 412);
    assert_int_equal(error_http_status(SVE_BODY_TOO_LARGE), 413);
    assert_string_equal(error_slug(SVE_NAME_TAKEN), "name-taken");
}

/* Out-of-range values never yield a success status. */
static void
test_out_of_range(void **state)
{
    (void) state;
    assert_int_equal(error_http_status((enum sv_error) 9999), 500);
    assert_string_equal(error_slug((enum sv_error) -1), "internal");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_rows),
        cmocka_unit_test(test_specific_statuses),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
