/* problem.c: the only builder of application/problem+json bodies
 * (RFC 9457).  A problem carries the catalog's type, title and status, a
 * request-specific detail, the failing field when there is one, and the
 * request path as "instance".
 *
 * Invariant: building a problem never fails on the client's bytes.  The
 * detail, the field and the instance may echo anything a client sent (a
 * path, a label key, a header) and the detail is cut to a fixed buffer, so
 * each is passed through utf8_sanitize(): ill-formed bytes become U+FFFD
 * and a cut never splits a character.  JSON encoding then cannot fail for
 * want of valid UTF-8. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/utf8.h"

#define PROBLEM_TEXT_MAX 1024

/* 's' as a well-formed string of at most PROBLEM_TEXT_MAX bytes in 'out'
 * (3 * PROBLEM_TEXT_MAX + 1 bytes: every byte may become U+FFFD). */
static const char *
clean(const char *s, char out[3 * PROBLEM_TEXT_MAX + 1])
{
    size_t len = utf8_whole_len(s, strnlen(s, PROBLEM_TEXT_MAX));
    utf8_sanitize(s, len, out, 3 * PROBLEM_TEXT_MAX + 1);
    return out;
}

void
api_problem(struct api_resp *resp, const struct api_req *req, enum sv_error e,
            const char *field, const char *fmt, ...)
{
    char raw[PROBLEM_TEXT_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    static __thread char detail[3 * PROBLEM_TEXT_MAX + 1];
    static __thread char text[3 * PROBLEM_TEXT_MAX + 1];

    char type[96];
    snprintf(type, sizeof type, "urn:skyvisor:problem:%s", error_slug(e));
    unsigned int status = error_http_status(e);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
                          error_title(e), "status", (int) status, "detail",
                          clean(raw, detail));
    if (p && field) {
        json_object_set_new(p, "field", json_string(clean(field, text)));
    }
    if (p && req && req->url) {
        json_object_set_new(p, "instance", json_string(clean(req->url, text)));
    }
    api_reply_json(resp, status, p);
    resp->content_type = "application/problem+json";
    resp->etag[0] = '\0';
    resp->www_authenticate = e == SVE_UNAUTHORIZED;
}
