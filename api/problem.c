/* problem.c: the only builder of application/problem+json bodies
 * (RFC 9457).  A problem carries the catalog's type, title and status, a
 * request-specific detail, the failing field when there is one, and the
 * request path as "instance". */
#include <stdarg.h>
#include <stdio.h>

#include "api/api.h"

void
api_problem(struct api_resp *resp, const struct api_req *req, enum sv_error e,
            const char *field, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);

    char type[96];
    snprintf(type, sizeof type, "urn:skyvisor:problem:%s", error_slug(e));
    unsigned int status = error_http_status(e);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
                          error_title(e), "status", (int) status, "detail",
                          detail);
    if (p && field) {
        json_object_set_new(p, "field", json_string(field));
    }
    if (p && req && req->url) {
        json_object_set_new(p, "instance", json_string(req->url));
    }
    api_reply_json(resp, status, p);
    resp->content_type = "application/problem+json";
    resp->etag[0] = '\0';
    resp->www_authenticate = e == SVE_UNAUTHORIZED;
}
