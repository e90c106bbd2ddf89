/* error.c: lookups into the API error catalog (core/errors.def).
 *
 * The catalog is data; this file only indexes it.  Out-of-range values map
 * to SVE_INTERNAL so a corrupted value can never produce a 2xx answer. */
#include "core/error.h"

struct error_row {
    unsigned int status;
    const char *slug;
    const char *title;
};

static const struct error_row error_rows[SVE__COUNT] = {
#define SV_ERROR(ID, STATUS, SLUG, TITLE) [SVE_##ID] = {STATUS, SLUG, TITLE},
#include "core/errors.def"
#undef SV_ERROR
};

static const struct error_row *
error_row(enum sv_error e)
{
    if ((unsigned int) e >= SVE__COUNT) {
        e = SVE_INTERNAL;
    }
    return &error_rows[e];
}

unsigned int
error_http_status(enum sv_error e)
{
    return error_row(e)->status;
}

const char *
error_slug(enum sv_error e)
{
    return error_row(e)->slug;
}

const char *
error_title(enum sv_error e)
{
    return error_row(e)->title;
}
