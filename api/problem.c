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

void
api_pointer_append(char *out, size_t len, const char *token)
{
    size_t off = strnlen(out, len);
    if (off + 1 < len) {
        out[off++] = '/';
    }
    for (const char *p = token; *p && off + 3 < len; p++) {
        if (*p == '~' || *p == '/') {
            out[off++] = '~';
            out[off++] = *p == '~' ? '0' : '1';
        } else {
            out[off++] = *p;
        }
    }
    out[off < len ? off : len - 1] = '\0';
}

/* Appends 'field' to the JSON Pointer in 'out': a member of 'body' is one
 * token, whatever its characters; otherwise the dots of a composed name
 * ("placement.host") separate tokens. */
static void
pointer_append_field(char *out, size_t len, const char *field, const json_t *body)
{
    if (json_object_get(body, field) || !strchr(field, '.')) {
        api_pointer_append(out, len, field);
        return;
    }
    char copy[256];
    snprintf(copy, sizeof copy, "%s", field);
    char *save = NULL;
    for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
        api_pointer_append(out, len, t);
    }
}

static json_t *
entry(const char *type, const char *title, int status, const char *detail,
      const char *pointer)
{
    static __thread char text[3 * PROBLEM_TEXT_MAX + 1];
    json_t *e = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title,
                          "status", status, "detail", detail);
    if (e) {
        json_object_set_new(e, "pointer", json_string(clean(pointer, text)));
    }
    return e;
}

json_t *
api_problem_entry(enum sv_error e, const char *pointer, const char *fmt, ...)
{
    char raw[PROBLEM_TEXT_MAX + 1];
    static __thread char detail[3 * PROBLEM_TEXT_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    char type[96];
    snprintf(type, sizeof type, "urn:skyvisor:problem:%s", error_slug(e));
    return entry(type, error_title(e), (int) error_http_status(e),
                 clean(raw, detail), pointer);
}

json_t *
api_problem_entry_of(const struct api_resp *problem, const char *base,
                     const json_t *body, const char *fieldless)
{
    json_t *p = problem->body ? json_loadb(problem->body, problem->body_len, 0, NULL)
                              : NULL;
    const char *field = json_string_value(json_object_get(p, "field"));
    char pointer[512];
    if (field) {
        snprintf(pointer, sizeof pointer, "%s", base);
        pointer_append_field(pointer, sizeof pointer, field, body);
    } else {
        snprintf(pointer, sizeof pointer, "%s", fieldless);
    }
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *title = json_string_value(json_object_get(p, "title"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    json_t *e = entry(type ? type : "urn:skyvisor:problem:internal",
                      title ? title : error_title(SVE_INTERNAL),
                      p ? (int) problem->status : 500,
                      detail ? detail : "the operation failed", pointer);
    json_decref(p);
    return e;
}

void
api_problem_unencodable(struct api_resp *resp)
{
    /* The catalog's slug and title are plain ASCII without quotes or
     * backslashes, so they need no escaping here. */
    char body[256];
    unsigned int status = error_http_status(SVE_INTERNAL);
    snprintf(body, sizeof body,
             "{\"type\":\"urn:skyvisor:problem:%s\",\"title\":\"%s\","
             "\"status\":%u,\"detail\":\"cannot encode the response\"}",
             error_slug(SVE_INTERNAL), error_title(SVE_INTERNAL), status);
    api_reply_text(resp, status, body, "application/problem+json");
    resp->etag[0] = '\0';
}

void
api_problem_errors(struct api_resp *resp, const struct api_req *req, enum sv_error e,
                   json_t *errors, const char *fmt, ...)
{
    char raw[PROBLEM_TEXT_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    api_problem(resp, req, e, NULL, "%s", raw);
    json_t *p = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    char *text = NULL;
    if (p && errors && !json_object_set(p, "errors", errors)) {
        text = json_dumps(p, JSON_COMPACT);
    }
    json_decref(p);
    json_decref(errors);
    if (text) {
        api_reply_owned(resp, error_http_status(e), text, strlen(text),
                        "application/problem+json");
    }
}
