/* error.h: the API error catalog as a C enum (rows in core/errors.def).
 *
 * core/ and db/ report failures that a client will see as an `enum
 * sv_error`; api/problem.c renders them.  The enum values are dense and
 * SVE_OK is 0, so `if (err)` reads naturally. */
#ifndef SKYVISOR_CORE_ERROR_H
#define SKYVISOR_CORE_ERROR_H

enum sv_error {
#define SV_ERROR(ID, STATUS, SLUG, TITLE) SVE_##ID,
#include "core/errors.def"
#undef SV_ERROR
    SVE__COUNT
};

/* HTTP status of 'e' (500 for an out-of-range value). */
unsigned int error_http_status(enum sv_error e);
/* Stable slug, static storage. */
const char *error_slug(enum sv_error e);
/* Human title, static storage. */
const char *error_title(enum sv_error e);

#endif
