/* http.c: the HTTP server (libmicrohttpd with a thread pool) and the request
 * pipeline described in api.h.
 *
 * Body handling: libmicrohttpd calls access_cb first with the headers
 * (*upload_data_size == 0), then once per body chunk, then a last time with
 * *upload_data_size == 0.  A body over the limit is drained and answered
 * 413, so that an ordinary client, which sends its whole body before
 * reading, sees the answer; a declared Content-Length beyond API_MAX_DRAIN
 * is refused at once, without reading, and a chunked body (no declared
 * length) is drained only up to API_MAX_DRAIN: then the 413 is written
 * straight to the socket and the connection closed, because libmicrohttpd
 * 0.9 accepts a queued response only before the body or after all of it.
 * Each worker thread borrows one database connection per request from the
 * pool, so threads never share a connection.
 *
 * The request head is judged before anything else, in this order and
 * before authentication or any database call:
 *   - request target over API_MAX_URI bytes: 414; head (without the
 *     request line) over API_MAX_HEADERS: 431.  libmicrohttpd answers these
 *     itself, without a problem body, only when a head outgrows its
 *     per-connection memory (HTTP_CONN_MEMORY), far beyond our limits;
 *   - the path and every query parameter name and value, percent-decoded,
 *     must be UTF-8 without NUL: 400 invalid-utf8 naming the field ("path"
 *     or the parameter's name).  uri_cb checks the raw target with the same
 *     decoder (http_unescape) libmicrohttpd then uses for what the handlers
 *     see, so a "%00" can never cut a path short unnoticed.
 * One client address holds at most --max-conns-per-ip connections, an idle
 * connection is closed after HTTP_IDLE_SECONDS and a request head must
 * arrive within HTTP_HEAD_SECONDS (http_conn.h).
 *
 * HTTPS (--tls-listen) is a second daemon on the same pipeline, its
 * certificate asked of api/tls.c at every handshake so that SIGHUP can
 * replace it (http_reload).
 *
 * Methods: HEAD is routed as GET (libmicrohttpd sends the headers, with the
 * body's Content-Length, and no body); OPTIONS answers 204 with Allow for a
 * known path, before authentication.
 *
 * Ownership: the per-request `struct http_ctx` is allocated by uri_cb (or
 * the first access_cb call) and freed by completed_cb, which libmicrohttpd
 * calls for every request it told us about, whatever happened to it. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/api.h"
#include "api/http_conn.h"
#include "api/tls.h"
#include "core/utf8.h"
#include "core/vlog.h"
#include "db/db.h"

#define DB_WAIT_MS 5000
#define API_MAX_DRAIN (64ULL * 1024 * 1024)
#define API_MAX_URI 8192                /* request target as sent: 414 */
#define API_MAX_HEADERS 32768           /* head less the request line: 431 */
/* libmicrohttpd's pool per connection: room for a head far beyond our
 * limits (a 60 KB target still gets its 414 problem), and no more, since
 * libmicrohttpd 0.9.75 zeroes the whole pool after every request. */
#define HTTP_CONN_MEMORY (96u * 1024)
#define HTTP_IDLE_SECONDS 10u
#define HTTP_HEAD_SECONDS 15u

struct api_server {
    struct MHD_Daemon *daemon;
    struct MHD_Daemon *tls_daemon;      /* --tls-listen, or NULL */
    struct http_conns *conns;
    const struct api_config *config;
};

struct http_ctx {
    struct timespec start;
    bool started;               /* access_cb has seen the head */
    size_t target_len;          /* the request target as sent */
    char *bad_field;            /* not UTF-8 or has NUL: "path" or a
                                 * parameter name; owned */
    bool bad_nul;               /* ... because of a NUL byte */
    char *body;
    size_t len, cap;
    unsigned long long drained; /* body bytes received */
    size_t max_body;            /* the route's limit (router_max_body) */
    bool too_large;
};

static struct http_ctx *
ctx_create(void)
{
    struct http_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx) {
        clock_gettime(CLOCK_MONOTONIC, &ctx->start);
    }
    return ctx;
}

static void
ctx_destroy(struct http_ctx *ctx)
{
    if (ctx) {
        free(ctx->bad_field);
        free(ctx->body);
        free(ctx);
    }
}

static double
elapsed_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - start->tv_sec)
           + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

void
api_reply_owned(struct api_resp *resp, unsigned int status, char *text,
                size_t len, const char *content_type)
{
    free(resp->body);
    resp->status = status;
    resp->body = text;
    resp->body_len = len;
    resp->content_type = content_type;
}

void
api_reply_text(struct api_resp *resp, unsigned int status, const char *text,
               const char *content_type)
{
    char *copy = strdup(text);
    if (!copy) {
        api_reply_owned(resp, 500, NULL, 0, "text/plain");
        return;
    }
    api_reply_owned(resp, status, copy, strlen(copy), content_type);
}

void
api_reply_json(struct api_resp *resp, unsigned int status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) {
        api_problem_unencodable(resp);
        return;
    }
    api_reply_owned(resp, status, text, strlen(text), "application/json");
}

const char *
api_header(const struct api_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, name);
}

const char *
api_query(const struct api_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, name);
}

/* Skips optional whitespace and list commas. */
static const char *
skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == ',') {
        p++;
    }
    return p;
}

bool
api_if_none_match(const struct api_req *req, const char *etag)
{
    const char *h = api_header(req, "If-None-Match");
    if (!h) {
        return false;
    }
    /* Weak comparison (RFC 9110, 8.8.3.2): the opaque tags, W/ aside. */
    const char *mine = strncmp(etag, "W/", 2) ? etag : etag + 2;
    size_t mine_len = strlen(mine);
    for (const char *p = skip_ows(h); *p; p = skip_ows(p)) {
        if (*p == '*') {
            return true;        /* the resource exists: that is all '*' asks */
        }
        if (!strncmp(p, "W/", 2)) {
            p += 2;
        }
        const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!close) {
            return false;       /* not a list of entity tags: no match */
        }
        size_t n = (size_t) (close + 1 - p);
        if (n == mine_len && !memcmp(p, mine, n)) {
            return true;
        }
        p = close + 1;
    }
    return false;
}

static enum api_method
parse_method(const char *m)
{
    for (int i = 0; i < API__N_METHODS; i++) {
        if (!strcmp(m, router_method_name((enum api_method) i))) {
            return (enum api_method) i;
        }
    }
    return API__N_METHODS;
}

/* True if the Content-Type names JSON (parameters such as charset allowed). */
static bool
is_json_type(const char *ct)
{
    static const char *const types[] = {"application/json",
                                        "application/merge-patch+json"};
    if (!ct) {
        return false;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if (!strncasecmp(ct, types[i], n) && (ct[n] == '\0' || ct[n] == ';'
                                               || ct[n] == ' ')) {
            return true;
        }
    }
    return false;
}

/* Steps 2-4 of the pipeline: route, check, authenticate, run the handler. */
static void
dispatch(struct api_req *req, struct api_resp *resp, const struct http_ctx *ctx)
{
    enum sv_error e = router_match(req, resp->allow, sizeof resp->allow);
    if (req->method == API_OPTIONS && e != SVE_NO_ROUTE) {
        api_reply_owned(resp, 204, NULL, 0, NULL);   /* with Allow */
        return;
    }
    if (e == SVE_OK) {
        resp->allow[0] = '\0';
    }
    if (e == SVE_NO_ROUTE) {
        api_problem(resp, req, e, NULL, "no route for %s", req->url);
        return;
    }
    if (e == SVE_METHOD_NOT_ALLOWED) {
        api_problem(resp, req, e, NULL, "%s allows only %s", req->url,
                    resp->allow);
        return;
    }
    if (ctx->too_large) {
        api_problem(resp, req, SVE_BODY_TOO_LARGE, NULL,
                    "the request body exceeds %zu bytes",
                    router_max_body(req->method, req->url));
        return;
    }
    /* A POST without a body and without a Content-Type (stop, start,
     * activate) has nothing to type. */
    bool wants_body = req->method == API_POST || req->method == API_PUT
                      || req->method == API_PATCH;
    const char *ctype = api_header(req, "Content-Type");
    if (wants_body && (req->body_len || ctype) && !is_json_type(ctype)) {
        api_problem(resp, req, SVE_UNSUPPORTED_MEDIA, NULL,
                    "send the body as application/json");
        return;
    }
    if (req->route->access != ACCESS_PUBLIC) {
        req->db = db_pool_get(req->config->pool, DB_WAIT_MS);
        if (!req->db) {
            api_problem(resp, req, SVE_DB_UNAVAILABLE, NULL,
                        "no database connection became free within %d ms",
                        DB_WAIT_MS);
            return;
        }
        if (auth_check(req, resp) != SVE_OK) {
            return;
        }
    }
    req->route->handler(req, resp);
}

static enum MHD_Result
send_response(struct MHD_Connection *conn, struct api_resp *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(resp->body);
        free(resp->location);
        return MHD_NO;
    }
    resp->body = NULL;
    if (resp->content_type && resp->body_len) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    }
    if (resp->etag[0]) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, resp->etag);
    }
    if (resp->seq[0]) {
        MHD_add_response_header(r, "Skyvisor-Seq", resp->seq);
    }
    if (resp->location) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
        free(resp->location);
    }
    if (resp->allow[0]) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    }
    if (resp->www_authenticate) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"skyvisor\"");
    }
    if (resp->security_headers) {
        /* The dashboard loads nothing but its own files and talks only to
         * this API. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Percent-decodes 's' in place ("%HH"; anything else is kept as it is, as
 * libmicrohttpd's default does) and returns the decoded length, which may
 * count NUL bytes.  libmicrohttpd's MHD_OPTION_UNESCAPE_CALLBACK. */
static size_t
http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void) cls;
    (void) conn;
    static const char hex[] = "0123456789abcdef0123456789ABCDEF";
    char *w = s;
    for (const char *r = s; *r; ) {
        const char *h1 = r[0] == '%' && r[1] ? memchr(hex, r[1], 32) : NULL;
        const char *h2 = h1 && r[2] ? memchr(hex, r[2], 32) : NULL;
        if (h2) {
            *w++ = (char) ((((h1 - hex) & 15) << 4) | ((h2 - hex) & 15));
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t) (w - s);
}

/* Decodes one part of the target in place ('plus': a query part, where '+'
 * is a space) and says whether it is UTF-8 without NUL; *nul tells why
 * not. */
static bool
part_ok(char *s, bool plus, bool *nul)
{
    if (plus) {
        for (char *p = s; *p; p++) {
            *p = *p == '+' ? ' ' : *p;
        }
    }
    size_t n = http_unescape(NULL, NULL, s);
    *nul = strlen(s) != n;
    return !*nul && utf8_valid(s, n);
}

/* Records in ctx whether the path and the query parameters of the raw
 * 'target' are text, split as libmicrohttpd splits them ('?', then '&',
 * then the first '='). */
static void
target_check(struct http_ctx *ctx, const char *target)
{
    size_t len = strlen(target);
    ctx->target_len = len;
    if (len > API_MAX_URI) {
        return;                         /* 414, nothing to decode */
    }
    char buf[API_MAX_URI + 1];
    memcpy(buf, target, len + 1);
    char *query = strchr(buf, '?');
    if (query) {
        *query++ = '\0';
    }
    const char *bad = NULL;
    if (!part_ok(buf, false, &ctx->bad_nul)) {
        bad = "path";
    }
    for (char *arg = query; !bad && arg && *arg; ) {
        char *amp = strchr(arg, '&'), *eq;
        if (amp) {
            *amp++ = '\0';
        }
        if ((eq = strchr(arg, '='))) {
            *eq++ = '\0';
        }
        if (!part_ok(arg, true, &ctx->bad_nul)
            || (eq && !part_ok(eq, true, &ctx->bad_nul))) {
            bad = arg;                  /* the name, as far as it decoded */
        }
        arg = amp;
    }
    if (bad) {
        ctx->bad_field = strdup(bad);
        if (!ctx->bad_field) {
            ctx->bad_field = strdup("?");
        }
    }
}

/* MHD_OPTION_URI_LOG_CALLBACK: called with the raw request target once the
 * request line is in, before libmicrohttpd decodes it.  Returns the
 * request's context (NULL on allocation failure: access_cb retries). */
static void *
uri_cb(void *cls, const char *target, struct MHD_Connection *conn)
{
    (void) cls;
    (void) conn;
    struct http_ctx *ctx = ctx_create();
    if (ctx) {
        target_check(ctx, target);
    }
    return ctx;
}

/* The problem with the request target that target_check() recorded, if
 * any (SVE_OK when none). */
static enum sv_error
target_problem(const struct http_ctx *ctx)
{
    if (ctx->target_len > API_MAX_URI) {
        return SVE_URI_TOO_LONG;
    }
    return ctx->bad_field ? SVE_INVALID_UTF8 : SVE_OK;
}

/* The problem with the request head, if any (SVE_OK when none), answered
 * before routing. */
static enum sv_error
head_problem(struct MHD_Connection *conn, const struct http_ctx *ctx)
{
    if (ctx->target_len > API_MAX_URI) {
        return SVE_URI_TOO_LONG;
    }
    const union MHD_ConnectionInfo *hs = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (hs && hs->header_size > ctx->target_len + API_MAX_HEADERS) {
        return SVE_HEADERS_TOO_LARGE;
    }
    return target_problem(ctx);
}

static void
head_reply(struct api_req *req, struct api_resp *resp, enum sv_error e,
           const struct http_ctx *ctx)
{
    switch (e) {
    case SVE_URI_TOO_LONG:
        api_problem(resp, req, e, NULL, "the request target has %zu bytes, "
                    "more than %d", ctx->target_len, API_MAX_URI);
        break;
    case SVE_HEADERS_TOO_LARGE:
        api_problem(resp, req, e, NULL, "the request headers exceed %d bytes",
                    API_MAX_HEADERS);
        break;
    default:
        if (!strcmp(ctx->bad_field, "path")) {
            api_problem(resp, req, e, "path", "the path %s once percent-decoded",
                        ctx->bad_nul ? "contains a NUL byte (%00)"
                                     : "is not valid UTF-8");
        } else {
            api_problem(resp, req, e, ctx->bad_field, "query parameter '%s' %s "
                        "once percent-decoded", ctx->bad_field,
                        ctx->bad_nul ? "contains a NUL byte (%00)"
                                     : "is not valid UTF-8");
        }
        break;
    }
}

/* Writes the problem in 'resp' as a whole HTTP/1.1 response with
 * "Connection: close" straight to the connection's socket, for the one
 * answer libmicrohttpd cannot queue: one in the middle of a request body.
 * The caller then returns MHD_NO, and libmicrohttpd closes the
 * connection. */
static void
send_raw(struct MHD_Connection *conn, const struct api_resp *resp)
{
    const char *reason = MHD_get_reason_phrase_for(resp->status);
    char *msg = NULL;
    int n = asprintf(&msg, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n%s", resp->status, reason,
                     resp->content_type, resp->body_len, resp->body);
    if (n < 0) {
        return;
    }
    const union MHD_ConnectionInfo *tls = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (tls && tls->tls_session) {
        tls_send_raw(tls->tls_session, msg, (size_t) n);
    } else if (fd) {
        while (send(fd->connect_fd, msg, (size_t) n, MSG_NOSIGNAL) < 0 && errno == EINTR) {
            continue;
        }
    }
    free(msg);
}

/* The pipeline once the head is judged ('head': SVE_OK, or the problem to
 * answer without routing): dispatch, the database connection back to the
 * pool, a 500 for a handler that answered nothing, metrics.  Both
 * libmicrohttpd's access_cb and http_serve() end here. */
static void
serve(struct api_req *req, struct api_resp *resp, const struct http_ctx *ctx,
      enum sv_error head)
{
    if (head != SVE_OK) {
        head_reply(req, resp, head, ctx);
    } else {
        dispatch(req, resp, ctx);
        if (req->db) {
            db_pool_put(req->config->pool, req->db);
            req->db = NULL;
        }
    }
    if (!resp->body && resp->status != 204 && resp->status != 304) {
        api_problem(resp, req, SVE_INTERNAL, NULL, "the handler produced no answer");
    }
    metrics_observe(req->route_index, req->method, resp->status,
                    elapsed_since(&ctx->start));
    vlog(VLOG_DEBUG, "http", "%s %s -> %u", router_method_name(req->method),
         req->url, resp->status);
}

void
http_serve(struct api_req *req, struct api_resp *resp, const char *target,
           bool too_large)
{
    struct http_ctx ctx = {.too_large = too_large};
    clock_gettime(CLOCK_MONOTONIC, &ctx.start);
    target_check(&ctx, target);
    serve(req, resp, &ctx, target_problem(&ctx));
    free(ctx.bad_field);
}

/* Takes one piece of the body.  Returns false when the drain limit is
 * passed (the caller answers and closes). */
static bool
take_body(struct http_ctx *ctx, const char *data, size_t n)
{
    ctx->drained += n;
    if (ctx->drained > API_MAX_DRAIN) {
        return false;
    }
    if (ctx->too_large || ctx->len + n > ctx->max_body) {
        ctx->too_large = true;
        free(ctx->body);
        ctx->body = NULL;
        ctx->len = ctx->cap = 0;
        return true;
    }
    if (ctx->len + n + 1 > ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap : 1024;
        while (cap < ctx->len + n + 1) {
            cap *= 2;
        }
        char *b = realloc(ctx->body, cap);
        if (!b) {
            ctx->too_large = true;      /* answered 413 rather than lost */
            return true;
        }
        ctx->body = b;
        ctx->cap = cap;
    }
    memcpy(ctx->body + ctx->len, data, n);
    ctx->len += n;
    ctx->body[ctx->len] = '\0';
    return true;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **con_cls)
{
    struct api_server *srv = cls;
    struct http_ctx *ctx = *con_cls;
    (void) version;

    if (!ctx) {
        ctx = ctx_create();
        if (!ctx) {
            return MHD_NO;
        }
        *con_cls = ctx;
    }
    struct api_req req = {
        .method = parse_method(method),
        .url = url,
        .route_index = (unsigned int) router_n_routes,
        .mhd = conn,
        .config = srv->config,
    };
    struct api_resp resp = {.status = 500};

    if (!ctx->started) {
        ctx->started = true;
        http_conn_head_done(conn);
        enum sv_error e = head_problem(conn, ctx);
        if (e != SVE_OK) {
            serve(&req, &resp, ctx, e);
            return send_response(conn, &resp);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        ctx->max_body = router_max_body(req.method, url);
        ctx->too_large = declared > ctx->max_body;
        if (declared <= API_MAX_DRAIN) {
            return MHD_YES;
        }
        /* answered without reading the body */
    } else if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (take_body(ctx, upload_data, n)) {
            return MHD_YES;
        }
        api_problem(&resp, &req, SVE_BODY_TOO_LARGE, NULL, "the request body "
                    "exceeds %zu bytes; stopped reading it after %llu",
                    ctx->max_body, API_MAX_DRAIN);
        metrics_observe(req.route_index, req.method, resp.status,
                        elapsed_since(&ctx->start));
        send_raw(conn, &resp);
        free(resp.body);
        return MHD_NO;
    }

    req.body = ctx->body ? ctx->body : "";
    req.body_len = ctx->len;
    serve(&req, &resp, ctx, SVE_OK);
    return send_response(conn, &resp);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) cls;
    (void) toe;
    ctx_destroy(*con_cls);
    *con_cls = NULL;
    http_conn_next_head(conn);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    vlog(VLOG_WARN, "http", "%s", buf);
}

/* Parses 'flag''s "IPv4:PORT" into 'sin'.  Returns false after logging. */
static bool
parse_addr(const char *flag, const char *s, struct sockaddr_in *sin)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t) (colon - s) >= sizeof host) {
        vlog(VLOG_ERR, "http", "%s wants IP:PORT, not '%s'", flag, s);
        return false;
    }
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    *sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    if (*end || port > 65535 || inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        vlog(VLOG_ERR, "http", "%s wants IPv4:PORT, not '%s'", flag, s);
        return false;
    }
    return true;
}

/* One libmicrohttpd daemon on 'sin' ('tls': HTTPS with api/tls.c's
 * certificate).  Returns NULL after logging. */
static struct MHD_Daemon *
start_daemon(struct api_server *srv, const struct http_options *opt,
             const char *addr, struct sockaddr_in *sin, bool tls)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
                         | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *) tls_cert_cb},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, ntohs(sin->sin_port), NULL, NULL, access_cb, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) sin,
        MHD_OPTION_THREAD_POOL_SIZE, opt->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_SECONDS,
        MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, opt->max_conns_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_URI_LOG_CALLBACK, uri_cb, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, srv,
        MHD_OPTION_NOTIFY_CONNECTION, http_conns_notify, srv->conns,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
        MHD_OPTION_ARRAY, tls ? tls_opts : none,
        MHD_OPTION_END);
    if (!d) {
        vlog(VLOG_ERR, "http", "cannot listen on %s%s: %s", tls ? "https://" : "",
             addr, strerror(errno));
        return NULL;
    }
    vlog(VLOG_INFO, "http", "listening on %s%s with %u worker threads, at most "
         "%u connections per client address", tls ? "https://" : "", addr,
         opt->threads, opt->max_conns_per_ip);
    return d;
}

struct api_server *
http_start(const struct http_options *opt, const struct api_config *config)
{
    struct sockaddr_in sin, tls_sin;
    if (!parse_addr("--listen", opt->listen, &sin)
        || (opt->tls_listen && !parse_addr("--tls-listen", opt->tls_listen, &tls_sin))) {
        return NULL;
    }
    if (opt->tls_listen) {
        char err[512];
        if (tls_load(opt->tls_cert, opt->tls_key, err, sizeof err)) {
            vlog(VLOG_ERR, "http", "TLS: %s", err);
            return NULL;
        }
    }
    struct api_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        return NULL;
    }
    srv->config = config;
    srv->conns = http_conns_create(HTTP_HEAD_SECONDS);
    if (!srv->conns
        || !(srv->daemon = start_daemon(srv, opt, opt->listen, &sin, false))
        || (opt->tls_listen
            && !(srv->tls_daemon = start_daemon(srv, opt, opt->tls_listen,
                                                &tls_sin, true)))) {
        http_stop(srv);
        return NULL;
    }
    return srv;
}

void
http_reload(struct api_server *srv)
{
    if (srv && srv->tls_daemon) {
        tls_reload();
    }
}

void
http_stop(struct api_server *srv)
{
    if (!srv) {
        return;
    }
    if (srv->tls_daemon) {
        MHD_stop_daemon(srv->tls_daemon);
    }
    if (srv->daemon) {
        MHD_stop_daemon(srv->daemon);
    }
    http_conns_destroy(srv->conns);
    tls_unload();
    free(srv);
}
