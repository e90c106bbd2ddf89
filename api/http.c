/* http.c: the HTTP server (libmicrohttpd with a thread pool) and the request
 * pipeline described in api.h.
 *
 * Body handling: libmicrohttpd calls access_cb first with the headers
 * (*upload_data_size == 0, no context yet), then once per body chunk, then a
 * last time with *upload_data_size == 0.  A body over the limit is drained
 * and answered 413, so that an ordinary client, which sends its whole body
 * before reading, sees the answer; only a declared Content-Length beyond
 * API_MAX_DRAIN is refused at once, without reading.  Each worker thread
 * borrows one database connection per request from the pool, so threads
 * never share a PGconn.
 *
 * Ownership: the per-request `struct http_ctx` is allocated on the first
 * call and freed by completed_cb, which libmicrohttpd calls for every
 * request, whatever happened to it. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/vlog.h"
#include "db/db.h"

#define DB_WAIT_MS 5000
#define API_MAX_DRAIN (64ULL * 1024 * 1024)

struct api_server {
    struct MHD_Daemon *daemon;
    const struct api_config *config;
};

struct http_ctx {
    struct timespec start;
    char *body;
    size_t len, cap;
    bool too_large;
};

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
        api_reply_text(resp, 500,
                       "{\"type\":\"urn:skyvisor:problem:internal\","
                       "\"title\":\"Internal error\",\"status\":500,"
                       "\"detail\":\"cannot encode the response\"}",
                       "application/problem+json");
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
dispatch(struct api_req *req, struct api_resp *resp, struct http_ctx *ctx)
{
    enum sv_error e = router_match(req, resp->allow, sizeof resp->allow);
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
                    "the request body exceeds %d bytes", API_MAX_BODY);
        return;
    }
    bool wants_body = req->method == API_POST || req->method == API_PUT
                      || req->method == API_PATCH;
    if (wants_body && !is_json_type(api_header(req, "Content-Type"))) {
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
    if (resp->location) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
        free(resp->location);
    }
    if (resp->status == 405 && resp->allow[0]) {
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

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_data_size, void **con_cls)
{
    struct api_server *srv = cls;
    struct http_ctx *ctx = *con_cls;
    (void) version;

    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) {
            return MHD_NO;
        }
        clock_gettime(CLOCK_MONOTONIC, &ctx->start);
        *con_cls = ctx;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > API_MAX_DRAIN) {
            ctx->too_large = true;   /* answered without reading the body */
        } else {
            ctx->too_large = declared > API_MAX_BODY;
            return MHD_YES;
        }
    } else if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (ctx->too_large || ctx->len + n > API_MAX_BODY) {
            ctx->too_large = true;
            free(ctx->body);
            ctx->body = NULL;
            ctx->len = ctx->cap = 0;
            return MHD_YES;
        }
        if (ctx->len + n + 1 > ctx->cap) {
            size_t cap = ctx->cap ? ctx->cap : 1024;
            while (cap < ctx->len + n + 1) {
                cap *= 2;
            }
            char *b = realloc(ctx->body, cap);
            if (!b) {
                return MHD_NO;
            }
            ctx->body = b;
            ctx->cap = cap;
        }
        memcpy(ctx->body + ctx->len, upload_data, n);
        ctx->len += n;
        ctx->body[ctx->len] = '\0';
        return MHD_YES;
    }

    struct api_req req = {
        .method = parse_method(method),
        .url = url,
        .route_index = (unsigned int) router_n_routes,
        .body = ctx->body ? ctx->body : "",
        .body_len = ctx->len,
        .mhd = conn,
        .config = srv->config,
    };
    struct api_resp resp = {.status = 500};
    dispatch(&req, &resp, ctx);
    if (req.db) {
        db_pool_put(srv->config->pool, req.db);
    }
    if (!resp.body && resp.status != 204 && resp.status != 304) {
        api_problem(&resp, &req, SVE_INTERNAL, NULL, "the handler produced no answer");
    }
    metrics_observe(req.route_index, req.method, resp.status,
                    elapsed_since(&ctx->start));
    vlog(VLOG_DEBUG, "http", "%s %s -> %u", method, url, resp.status);
    return send_response(conn, &resp);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) cls;
    (void) conn;
    (void) toe;
    struct http_ctx *ctx = *con_cls;
    if (ctx) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    vlog(VLOG_WARN, "http", "%s", buf);
}

struct api_server *
http_start(const char *listen, unsigned int threads, const struct api_config *config)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t) (colon - listen) >= sizeof host) {
        vlog(VLOG_ERR, "http", "--listen wants IP:PORT, not '%s'", listen);
        return NULL;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    if (*end || port > 65535 || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        vlog(VLOG_ERR, "http", "--listen wants IPv4:PORT, not '%s'", listen);
        return NULL;
    }
    struct api_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        return NULL;
    }
    srv->config = config;
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
        (uint16_t) port, NULL, NULL, access_cb, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sin,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
        MHD_OPTION_END);
    if (!srv->daemon) {
        vlog(VLOG_ERR, "http", "cannot listen on %s: %s", listen, strerror(errno));
        free(srv);
        return NULL;
    }
    vlog(VLOG_INFO, "http", "listening on %s with %u worker threads", listen,
         threads);
    return srv;
}

void
http_stop(struct api_server *srv)
{
    if (!srv) {
        return;
    }
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
