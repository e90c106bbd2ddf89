/* libFuzzer target for skyvisord's HTTP layer: every input is one request
 * through http_serve() (api/http.c), the pipeline libmicrohttpd's
 * callbacks run: the checks of the raw request target, the router, the
 * body and media type checks, authentication and every handler.
 *
 * Input (text, like the request on the wire, so that seeds read as
 * requests):
 *     METHOD TARGET\n
 *     Name: value\n            (headers, until an empty line)
 *     \n
 *     body
 *     \0 script                (optional: fuzz_http_db.c's directions)
 * In header values "$A" stands for the admin token, "$T" for a tenant
 * token of tenant "acme" and "$R" for a read-only one of the same tenant;
 * a request without an Authorization header carries the admin token, so
 * that most inputs are authenticated and reach the handlers.  Headers
 * and query parameters reach api_header()/api_query() through a link-time
 * wrap of MHD_lookup_connection_value; the path is percent-decoded by
 * libmicrohttpd's own MHD_http_unescape, as libmicrohttpd does before it
 * calls us.  A declared Content-Length over the route's limit
 * (router_max_body) stands for a body too large to keep.
 *
 * Two builds of this file:
 *   fuzz_http     libpq stood in for (fuzz_http_db.c, -Wl,--wrap): a fixed
 *                 world, the script picking rows, errors and outages;
 *   fuzz_http_pg  (fuzz_http_pg.c) a real PostgreSQL named by
 *                 $SKYVISOR_FUZZ_DB, migrated by db/migrate.c at start.
 * Both first create the world through the API (the bootstrap below: the
 * same objects fuzz_http_db.c answers with), and fuzz_http_pg re-creates
 * what the fuzzer deleted every BOOTSTRAP_EVERY inputs.
 *
 * Findings, beyond what the sanitizers and the leak checker report:
 *   - a 500, or any 5xx but 503; a 503 unless the stand-in simulated an
 *     outage or a concurrent writer (with a real database: ever);
 *   - a JSON or problem+json body that is not valid JSON (UTF-8 included),
 *     or a problem whose "status" is not the response's;
 *   - a 2xx to a write, not a dry run, when no COMMIT succeeded and no
 *     idempotent replay was handed out (stand-in only): an acknowledged
 *     write that was never made;
 *   - a resource's INSERT, UPDATE or DELETE run outside a transaction
 *     (stand-in only): after a lost connection, a handler that goes on
 *     writes in autocommit what it meant to write all or nothing;
 *   - a database connection not back in the pool after the request.
 * With $FUZZ_HTTP_REPORT set, the target writes there at exit how many
 * inputs reached each route of router_routes[] and with which statuses. */
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/embed.h"
#include "core/vlog.h"
#include "db/db.h"
#include "tests/fuzz/fuzz_http.h"

#ifdef FUZZ_HTTP_PG
#include "db/migrate.h"
#endif

#define ADMIN_TOKEN "fuzz-admin-token-0123456789abcdef"
#define MAX_FIELDS 64
#define MAX_STATUSES 24
#define BOOTSTRAP_EVERY 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__wrap_MHD_lookup_connection_value(struct MHD_Connection *,
                                               enum MHD_ValueKind, const char *);
const char *__real_MHD_lookup_connection_value(struct MHD_Connection *,
                                               enum MHD_ValueKind, const char *);

extern const struct embed_file api_openapi_files[];

static struct api_config config;
static char token_rw[80] = FDB_TOKEN_RW, token_ro[80] = FDB_TOKEN_RO;

/* --- the request's headers and query, for MHD_lookup_connection_value --- */

struct field {
    const char *name, *value;   /* value NULL: a query name without '=' */
};
static struct {
    struct field headers[MAX_FIELDS], args[MAX_FIELDS];
    size_t n_headers, n_args;
} fields;
static char fuzz_conn_token;
#define FUZZ_CONN ((struct MHD_Connection *) &fuzz_conn_token)

const char *
__wrap_MHD_lookup_connection_value(struct MHD_Connection *conn,
                                   enum MHD_ValueKind kind, const char *key)
{
    if (conn != FUZZ_CONN) {
        return __real_MHD_lookup_connection_value(conn, kind, key);
    }
    const struct field *f = kind == MHD_HEADER_KIND ? fields.headers
                            : kind == MHD_GET_ARGUMENT_KIND ? fields.args : NULL;
    size_t n = kind == MHD_HEADER_KIND ? fields.n_headers
               : kind == MHD_GET_ARGUMENT_KIND ? fields.n_args : 0;
    for (size_t i = 0; key && i < n; i++) {
        if (!strcasecmp(f[i].name, key)) {
            return f[i].value;
        }
    }
    return NULL;
}

/* --- per-route coverage ------------------------------------------------- */

struct route_stats {
    unsigned long long execs;
    struct {
        unsigned int status;
        unsigned long long n;
    } st[MAX_STATUSES];
};
static struct route_stats *stats;      /* router_n_routes + 1 (unrouted) */

static void
stats_count(unsigned int route, unsigned int status)
{
    struct route_stats *r = &stats[route < router_n_routes ? route : router_n_routes];
    r->execs++;
    for (size_t i = 0; i < MAX_STATUSES; i++) {
        if (!r->st[i].status || r->st[i].status == status) {
            r->st[i].status = status;
            r->st[i].n++;
            return;
        }
    }
}

static void
stats_write(void)
{
    const char *path = getenv("FUZZ_HTTP_REPORT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) {
        return;
    }
    for (size_t i = 0; i <= router_n_routes; i++) {
        char route[112];
        if (i < router_n_routes) {
            snprintf(route, sizeof route, "%s %s",
                     router_method_name(router_routes[i].method),
                     router_routes[i].pattern);
        } else {
            snprintf(route, sizeof route, "(none: 400, 404, 405, 414, OPTIONS)");
        }
        fprintf(f, "%-84s %10llu ", route, stats[i].execs);
        for (size_t k = 0; k < MAX_STATUSES && stats[i].st[k].status; k++) {
            fprintf(f, " %u:%llu", stats[i].st[k].status, stats[i].st[k].n);
        }
        fputc('\n', f);
    }
    fclose(f);
}

/* --- one request ---------------------------------------------------------- */

static void
finding(const char *what, const char *method, const char *target,
        const struct api_resp *resp)
{
    fprintf(stderr, "fuzz_http: %s: %s %s -> %u %.*s\n", what, method, target,
            resp->status, (int) (resp->body_len < 2000 ? resp->body_len : 2000),
            resp->body ? resp->body : "");
    abort();
}

/* Replaces "$A", "$T" and "$R" in 'v'.  Returns a malloc'ed string. */
static char *
expand(const char *v)
{
    size_t cap = strlen(v) * 40 + 1;
    char *out = malloc(cap), *w = out;
    if (!out) {
        abort();
    }
    for (const char *p = v; *p; p++) {
        const char *sub = NULL;
        if (p[0] == '$' && p[1]) {
            sub = p[1] == 'A' ? ADMIN_TOKEN : p[1] == 'T' ? token_rw
                  : p[1] == 'R' ? token_ro : NULL;
        }
        if (sub) {
            w = stpcpy(w, sub);
            p++;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

/* Splits the query 'q' (modified) into fields.args as libmicrohttpd does:
 * '&' between parameters, the first '=' between name and value, '+' a
 * space, then percent-decoding. */
static void
parse_query(char *q)
{
    for (char *arg = q; arg && *arg && fields.n_args < MAX_FIELDS; ) {
        char *amp = strchr(arg, '&');
        if (amp) {
            *amp++ = '\0';
        }
        char *eq = strchr(arg, '=');
        if (eq) {
            *eq++ = '\0';
        }
        for (char *p = arg; *p; p++) {
            *p = *p == '+' ? ' ' : *p;
        }
        for (char *p = eq; p && *p; p++) {
            *p = *p == '+' ? ' ' : *p;
        }
        MHD_http_unescape(arg);
        if (eq) {
            MHD_http_unescape(eq);
        }
        fields.args[fields.n_args++] = (struct field){arg, eq};
        arg = amp;
    }
}

static enum api_method
method_of(const char *m)
{
    int i;
    for (i = 0; i < API__N_METHODS; i++) {
        if (!strcmp(m, router_method_name((enum api_method) i))) {
            break;
        }
    }
    return (enum api_method) i;
}

#ifndef FUZZ_HTTP_PG
static bool
is_write(enum api_method m)
{
    return m == API_POST || m == API_PUT || m == API_PATCH || m == API_DELETE;
}
#endif

/* The invariants every answer keeps (see the file comment). */
static void
check(const char *method, const char *target, enum api_method m,
      const struct api_resp *resp)
{
    struct fdb_report rep;
    fdb_report(&rep);
    unsigned int st = resp->status;
    if (st < 100 || st > 599) {
        finding("status out of range", method, target, resp);
    }
    if (st >= 500 && !(st == 503 && (rep.outage || rep.contended))) {
        finding(st == 503 ? "503 without an outage" : "server error", method,
                target, resp);
    }
    const char *ct = resp->content_type ? resp->content_type : "";
    bool problem = !strcmp(ct, "application/problem+json");
    json_t *doc = NULL;
    if (resp->body && (problem || !strcmp(ct, "application/json"))) {
        json_error_t err;
        doc = json_loadb(resp->body, resp->body_len, 0, &err);
        if (!doc || strlen(resp->body) != resp->body_len) {
            finding("body is not JSON", method, target, resp);
        }
        if (problem && (json_integer_value(json_object_get(doc, "status")) != st
                        || !json_is_string(json_object_get(doc, "type")))) {
            finding("problem without its status or type", method, target, resp);
        }
    }
#ifndef FUZZ_HTTP_PG
    if (rep.write_outside_txn) {
        finding("a write statement ran outside a transaction", method, target, resp);
    }
    if (is_write(m) && st >= 200 && st < 300 && !rep.committed && !rep.replayed
        && !json_is_true(json_object_get(doc, "dry_run"))) {
        finding("2xx for a write that was never committed", method, target, resp);
    }
#else
    (void) m;
#endif
    json_decref(doc);
    struct db_pool_stats ps;
    db_pool_get_stats(config.pool, &ps);
    if (ps.in_use) {
        finding("database connection not returned", method, target, resp);
    }
}

/* Serves one input; returns the status and, if 'body' is not NULL, the
 * response body (malloc'ed, caller frees; may be NULL). */
static unsigned int
serve_input(const uint8_t *data, size_t size, char **body)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t http_len = nul ? (size_t) (nul - data) : size;
    char *text = malloc(http_len + 1);
    if (!text) {
        abort();
    }
    memcpy(text, data, http_len);
    text[http_len] = '\0';
    fdb_begin(nul ? nul + 1 : NULL, nul ? size - http_len - 1 : 0);

    /* Request line. */
    char *line_end = strchr(text, '\n');
    char *rest = line_end ? line_end + 1 : text + http_len;
    if (line_end) {
        *line_end = '\0';
    }
    size_t n = strlen(text);
    if (n && text[n - 1] == '\r') {
        text[n - 1] = '\0';
    }
    char *sp = strchr(text, ' ');
    const char *method = text;
    const char *target = sp ? sp + 1 : "/";
    if (sp) {
        *sp = '\0';
    }

    /* Headers, then the body. */
    char *expanded[MAX_FIELDS];
    fields.n_headers = fields.n_args = 0;
    while (*rest) {
        char *eol = strchr(rest, '\n');
        char *next = eol ? eol + 1 : rest + strlen(rest);
        if (eol) {
            *eol = '\0';
        }
        size_t len = strlen(rest);
        if (len && rest[len - 1] == '\r') {
            rest[--len] = '\0';
        }
        if (!len) {
            rest = next;
            break;
        }
        char *colon = strchr(rest, ':');
        if (colon && fields.n_headers < MAX_FIELDS) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            expanded[fields.n_headers] = expand(v);
            fields.headers[fields.n_headers] = (struct field){
                rest, expanded[fields.n_headers]};
            fields.n_headers++;
        }
        rest = next;
    }
    const char *payload = rest;
    size_t payload_len = http_len - (size_t) (rest - text);
    if (!__wrap_MHD_lookup_connection_value(FUZZ_CONN, MHD_HEADER_KIND,
                                            "Authorization")
        && fields.n_headers < MAX_FIELDS) {
        /* Most inputs reach the handlers: without an Authorization header
         * the request is the admin's ("Authorization:" with no value sends
         * none). */
        expanded[fields.n_headers] = expand("Bearer $A");
        fields.headers[fields.n_headers] = (struct field){
            "Authorization", expanded[fields.n_headers]};
        fields.n_headers++;
    }

    /* Path and query, as libmicrohttpd hands them over. */
    char *path = strdup(target);
    if (!path) {
        abort();
    }
    char *query = strchr(path, '?');
    if (query) {
        *query++ = '\0';
        parse_query(query);
    }
    MHD_http_unescape(path);
    const char *cl = __wrap_MHD_lookup_connection_value(FUZZ_CONN, MHD_HEADER_KIND,
                                                        "Content-Length");

    enum api_method m = method_of(method);
    struct api_req req = {
        .method = m,
        .url = path,
        .route_index = (unsigned int) router_n_routes,
        .body = payload,
        .body_len = payload_len,
        .mhd = FUZZ_CONN,
        .config = &config,
    };
    struct api_resp resp = {.status = 500};
    http_serve(&req, &resp, target,
               cl && strtoull(cl, NULL, 10) > router_max_body(m, path));
    check(method, target, m, &resp);
    stats_count(req.route_index, resp.status);

    unsigned int status = resp.status;
    if (body) {
        *body = resp.body;
    } else {
        free(resp.body);
    }
    free(resp.location);
    for (size_t i = 0; i < fields.n_headers; i++) {
        free(expanded[i]);
    }
    fields.n_headers = fields.n_args = 0;
    free(path);
    free(text);
    return status;
}

/* --- the world ------------------------------------------------------------ */

#define JSON_POST(path, body) \
    "POST " path "\nAuthorization: Bearer $A\nContent-Type: application/json\n\n" body
static const char *const bootstrap[] = {
    JSON_POST("/v1/clouds", "{\"name\":\"aws-fra\",\"provider\":\"aws\",\"region\":"
              "\"eu-central-1\",\"jurisdiction\":\"DE\",\"kind\":\"public\","
              "\"cost_per_hour\":\"0.096\",\"labels\":{\"env\":\"prod\"}}"),
    JSON_POST("/v1/clouds", "{\"name\":\"gcp-us\",\"provider\":\"gcp\",\"region\":"
              "\"us-east1\",\"jurisdiction\":\"US\",\"kind\":\"public\"}"),
#define HOST(name, cloud, ip, extra)                                           \
    JSON_POST("/v1/hosts", "{\"name\":\"" name "\",\"cloud\":\"" cloud "\","    \
              "\"tunnel_ip\":\"" ip "\",\"ovsdb\":\"unix:/run/sky/" name         \
              "/db.sock\",\"openflow\":\"unix:/run/sky/" name "/br-sky.mgmt\"" \
              extra "}")
    HOST("fra-gw", "aws-fra", "198.18.0.1",
         ",\"role\":\"gateway\",\"public_ip\":\"203.0.113.1\""),
    HOST("fra-w1", "aws-fra", "198.18.0.2", ",\"capacity\":8"),
    HOST("us-gw", "gcp-us", "198.18.0.3",
         ",\"role\":\"gateway\",\"public_ip\":\"203.0.113.3\""),
#undef HOST
    "PUT /v1/cloud-links/aws-fra/gcp-us\nAuthorization: Bearer $A\n"
    "Content-Type: application/json\n\n{\"cost\":2,\"rtt_ms\":80}",
    JSON_POST("/v1/tenants", "{\"name\":\"acme\"}"),
    JSON_POST("/v1/tenants/acme/networks", "{\"name\":\"net\",\"subnet\":\"10.0.0.0/24\"}"),
    JSON_POST("/v1/tenants/acme/networks/net/switches", "{\"name\":\"s1\"}"),
    JSON_POST("/v1/tenants/acme/networks/net/switches", "{\"name\":\"s2\"}"),
    JSON_POST("/v1/tenants/acme/networks/net/links",
              "{\"name\":\"l1\",\"a\":\"s1\",\"b\":\"s2\"}"),
    JSON_POST("/v1/tenants/acme/networks/net/vms", "{\"name\":\"web\",\"mac\":"
              "\"02:00:00:00:00:01\",\"ip\":\"10.0.0.5\",\"switch\":\"s1\","
              "\"placement\":{\"cloud\":\"aws-fra\"}}"),
    JSON_POST("/v1/tenants/acme/networks/net/vms", "{\"name\":\"db\",\"mac\":"
              "\"02:00:00:00:00:02\",\"ip\":\"10.0.0.6\",\"switch\":\"s2\","
              "\"placement\":{\"host\":\"fra-w1\"}}"),
};

static unsigned int
serve_text(const char *text, char **body)
{
    return serve_input((const uint8_t *) text, strlen(text), body);
}

#ifdef FUZZ_HTTP_PG
/* Mints a tenant token of 'scope' into 'out' (a real database only). */
static void
mint(const char *scope, char *out, size_t len)
{
    static unsigned int serial;
    char req[256], *body = NULL;
    snprintf(req, sizeof req, "POST /v1/tenants/acme/tokens\nAuthorization: Bearer $A\n"
             "Content-Type: application/json\n\n{\"name\":\"fz-%u\",\"scope\":\"%s\"}",
             serial++, scope);
    unsigned int st = serve_text(req, &body);
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(doc, "token"));
    if (st != 201 || !t) {
        fprintf(stderr, "fuzz_http: cannot mint a %s token: %u %s\n", scope, st,
                body ? body : "");
        abort();
    }
    snprintf(out, len, "%s", t);
    json_decref(doc);
    free(body);
}
#endif

/* Creates what is missing of the world.  The first time, every answer
 * must be a success (or 409 for what a database holds already); later,
 * after the fuzzer changed the world, a refusal is fine (a VM's address
 * taken by another VM, say) and only the usual checks apply. */
static void
world_ensure(void)
{
    static bool again;
    for (size_t i = 0; i < sizeof bootstrap / sizeof bootstrap[0]; i++) {
        char *body = NULL;
        unsigned int st = serve_text(bootstrap[i], &body);
        if (!again && st != 200 && st != 201 && st != 409) {
            fprintf(stderr, "fuzz_http: bootstrap request %zu answered %u %s:\n%s\n",
                    i, st, body ? body : "", bootstrap[i]);
            abort();
        }
        free(body);
    }
    again = true;
#ifdef FUZZ_HTTP_PG
    if (serve_text("GET /v1/tenants/acme\nAuthorization: Bearer $T\n\n", NULL) != 200) {
        mint("read-write", token_rw, sizeof token_rw);
    }
    if (serve_text("GET /v1/tenants/acme\nAuthorization: Bearer $R\n\n", NULL) != 200) {
        mint("read-only", token_ro, sizeof token_ro);
    }
#endif
}

#ifdef FUZZ_HTTP_PG
/* Without the stand-in there is nothing to direct and no outage. */
void
fdb_begin(const uint8_t *script, size_t len)
{
    (void) script;
    (void) len;
}

void
fdb_report(struct fdb_report *out)
{
    memset(out, 0, sizeof *out);
}

static struct db_pool *
pool_open(void)
{
    const char *url = getenv("SKYVISOR_FUZZ_DB");
    if (!url) {
        fprintf(stderr, "fuzz_http_pg: set SKYVISOR_FUZZ_DB to a PostgreSQL URL "
                "(make fuzz-http-pg does)\n");
        exit(2);
    }
    struct db_conn *c = db_conn_create(url);
    char err[512];
    if (!c || migrate_apply(c, db_mig_files, db_mig_count, err, sizeof err)) {
        fprintf(stderr, "fuzz_http_pg: cannot migrate %s: %s\n", url,
                c ? err : "no connection");
        exit(2);
    }
    db_conn_destroy(c);
    return db_pool_create(url, 1);
}
#else
static struct db_pool *
pool_open(void)
{
    return db_pool_create("stand-in", 1);
}
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    /* Quiet unless asked: the simulated outages make db/ log errors. */
    vlog_set_level(getenv("FUZZ_HTTP_LOG") ? VLOG_DEBUG : (enum vlog_level) (VLOG_ERR + 1));
    config.admin_token = ADMIN_TOKEN;
    config.openapi_json = api_openapi_files[0].data;
    config.pool = pool_open();
    stats = calloc(router_n_routes + 1, sizeof *stats);
    if (!config.pool || !stats) {
        abort();
    }
    world_ensure();
    memset(stats, 0, (router_n_routes + 1) * sizeof *stats);
    atexit(stats_write);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FUZZ_HTTP_PG
    static unsigned long long runs;
    if (++runs % BOOTSTRAP_EVERY == 0) {
        world_ensure();
    }
#endif
    serve_input(data, size, NULL);
    return 0;
}
