/* api.h: what the files of api/ share: the request and response of one HTTP
 * exchange, the router table, problem replies, authentication and metrics.
 *
 * Life of a request (api/http.c drives it):
 *   1. libmicrohttpd hands over the method, the URL and the body in pieces;
 *      http.c accumulates the body (over the route's limit, 1 MiB unless
 *      router.c names more: 413) and then
 *   2. router_match() finds the route: none -> 404 no-route, wrong method ->
 *      405 with Allow;
 *   3. auth_check() maps the bearer token to a principal (admin or one
 *      tenant) and checks it against the route's access class;
 *   4. the route's handler runs with a borrowed database connection and
 *      fills the response (JSON, problem+json or text);
 *   5. http.c sends it and metrics_observe() records route, status and
 *      latency.
 * Handlers never see libmicrohttpd types except through the accessors
 * below, and never build problem bodies themselves (api_problem does). */
#ifndef SKYVISOR_API_API_H
#define SKYVISOR_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/tunnels.h"

struct db_conn;
struct db_pool;
struct MHD_Connection;

#define API_MAX_BODY (1024 * 1024)
#define BATCH_MAX_BODY (16 * 1024 * 1024)   /* POST .../networks/{n}/batch */
#define API_MAX_PARAMS 4

/* HEAD and OPTIONS are never in the route table: HEAD is served by the GET
 * route, OPTIONS by the router itself (204 with Allow). */
enum api_method {
    API_GET, API_POST, API_PUT, API_PATCH, API_DELETE, API_HEAD, API_OPTIONS,
    API__N_METHODS
};

/* Who may use a route. */
enum api_access {
    ACCESS_PUBLIC,          /* no token */
    ACCESS_ADMIN,           /* the admin token only */
    ACCESS_TENANT,          /* admin, or the token of the tenant named by the
                             * route's first path parameter */
};

struct api_req;
struct api_resp;
typedef void api_handler(struct api_req *, struct api_resp *);

struct api_route {
    enum api_method method;
    const char *pattern;    /* "/v1/clouds/{cloud}" */
    enum api_access access;
    api_handler *handler;
};

/* The authenticated caller. */
struct api_principal {
    bool admin;
    char tenant_id[37];     /* when !admin */
    char token_id[37];      /* when !admin: the token used */
    bool read_only;         /* when !admin: a read-only token */
};

/* Process-wide settings the handlers need. */
struct reconciler;
struct lease_keeper;
struct readsnap;
struct vswitch_agent;

struct api_config {
    const char *admin_token;    /* SKYVISOR_ADMIN_TOKEN, when no file */
    const char *admin_token_file; /* --admin-token-file, or NULL */
    struct db_pool *pool;
    const char *openapi_json;   /* the embedded document */
    struct reconciler *recon;   /* NULL with --no-reconciler */
    enum tunnels_layout layout; /* --tunnels */
    struct lease_keeper *keeper; /* this instance's leases (db/lease_keeper.h) */
    const struct vswitch_agent *tenant_ctl; /* the tenants' controllers' switches
                                             * (ctrl/vswitch_agent.h), or NULL */
    struct readsnap *readsnap;  /* GETs of clouds, hosts and tenants from
                                 * memory (api/readsnap.h), or NULL */
};

struct api_req {
    enum api_method method;
    const char *url;                    /* path, without the query */
    const struct api_route *route;      /* NULL when unrouted */
    unsigned int route_index;
    const char *params[API_MAX_PARAMS]; /* path parameters, in order */
    size_t n_params;
    const char *body;                   /* NUL-terminated, may be empty */
    size_t body_len;
    struct MHD_Connection *mhd;
    struct api_principal principal;
    struct db_conn *db;                 /* borrowed for this request */
    const struct api_config *config;
};

struct api_resp {
    unsigned int status;
    char *body;                 /* owned, NUL-terminated */
    size_t body_len;
    const char *content_type;   /* static storage */
    char etag[40];              /* "" or a quoted strong ETag */
    char seq[24];               /* "" or a write's Skyvisor-Seq */
    char *location;             /* owned, or NULL */
    char allow[64];             /* for 405 and OPTIONS */
    bool www_authenticate;      /* for 401 */
    bool security_headers;      /* dashboard pages: CSP and friends */
};

/* --- router.c --- */
extern const struct api_route router_routes[];
extern const size_t router_n_routes;
/* Finds the route for 'method' and 'path', filling req->params.  Returns
 * SVE_OK, SVE_NO_ROUTE, or SVE_METHOD_NOT_ALLOWED (with the allowed methods
 * written into 'allow'). */
enum sv_error router_match(struct api_req *req, char *allow, size_t allow_len);
const char *router_method_name(enum api_method);
/* Prints "METHOD /pattern" per operation to 'out'. */
void router_list(void *out_file);
/* The body limit of the route 'method' 'path' would take: API_MAX_BODY
 * unless router.c's table of larger limits names the route (the batch).
 * For http.c to apply while the body arrives, before routing proper. */
size_t router_max_body(enum api_method method, const char *path);

/* --- problem.c --- */
/* Replaces the response with an application/problem+json body for 'e';
 * 'field' (may be NULL) names the failing field; detail is printf-style. */
void api_problem(struct api_resp *, const struct api_req *, enum sv_error e,
                 const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A request that fails in several places at once (api/batch.c) answers one
 * problem for 'e' whose "errors" member lists an entry per failure: type,
 * title, status and detail as the failure's own problem would say, and
 * "pointer", a JSON Pointer (RFC 6901) into the request body.
 * api_problem_entry builds an entry (a new reference, NULL when memory runs
 * out); api_problem_entry_of turns a problem api_problem wrote into
 * 'problem' into one, its field appended to the pointer 'base' (a member of
 * 'body' as one token, a composed name "placement.host" as two) or, without
 * a field, the pointer 'fieldless'; api_problem_errors replaces the
 * response with the problem carrying 'errors' (an array, always
 * consumed). */
json_t *api_problem_entry(enum sv_error e, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
json_t *api_problem_entry_of(const struct api_resp *problem, const char *base,
                             const json_t *body, const char *fieldless);
void api_problem_errors(struct api_resp *, const struct api_req *, enum sv_error e,
                        json_t *errors, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Replaces the response with the catalog's 'internal' problem, detail
 * "cannot encode the response", built without jansson: what
 * api_reply_json answers when a body cannot be encoded. */
void api_problem_unencodable(struct api_resp *);
/* Appends '/' and 'token' escaped as RFC 6901 says ('~' -> "~0", '/' ->
 * "~1") to the NUL-terminated JSON Pointer in out[len], cutting at len. */
void api_pointer_append(char *out, size_t len, const char *token);

/* --- http.c: replies and request accessors --- */
/* Sets a JSON reply.  Always consumes 'json'. */
void api_reply_json(struct api_resp *, unsigned int status, json_t *json);
/* Sets a reply whose body is the JSON text 'text' (copied). */
void api_reply_text(struct api_resp *, unsigned int status, const char *text,
                    const char *content_type);
/* Takes ownership of the malloc'ed, NUL-terminated 'text'. */
void api_reply_owned(struct api_resp *, unsigned int status, char *text,
                     size_t len, const char *content_type);
const char *api_header(const struct api_req *, const char *name);
const char *api_query(const struct api_req *, const char *name);
/* True if the request's If-None-Match matches 'etag' (a quoted entity tag):
 * "*", or a comma-separated list holding it by weak comparison (W/ aside,
 * RFC 9110 13.1.2).  A GET then answers 304. */
bool api_if_none_match(const struct api_req *, const char *etag);
/* Steps 2-5 for a request whose head and body are in: the pipeline as
 * libmicrohttpd's callbacks run it, the entry for tests and fuzzing.
 * 'target' is the request target as sent (over 8192 bytes: 414; a path or
 * query parameter that is not UTF-8 or holds NUL once percent-decoded: 400
 * invalid-utf8), 'too_large' says the body outgrew API_MAX_BODY (413 once
 * routed).  The caller fills req's method, url (the decoded path), body,
 * body_len, mhd (what api_header and api_query look in), config and
 * route_index = router_n_routes, and resp->status = 500; it owns resp's
 * body and location afterwards.  Any database connection is back in the
 * pool on return. */
void http_serve(struct api_req *req, struct api_resp *resp, const char *target,
                bool too_large);

/* --- auth.c --- */
/* Authenticates the request and enforces the route's access class.  Returns
 * SVE_OK or fills the response with the problem and returns the error. */
enum sv_error auth_check(struct api_req *, struct api_resp *);
/* Creates a new tenant token in 'out' (>= 68 bytes): "svt_" + 64 hex. */
int auth_new_token(char *out, size_t len);
/* The shortest admin token accepted. */
#define AUTH_MIN_ADMIN_TOKEN 16
/* Reads the admin token file (--admin-token-file) for the first time.
 * Returns 0, or writes why it holds no usable token into 'err' and returns
 * an errno value. */
int auth_admin_file_load(const char *path, char *err, size_t errlen);

/* --- metrics.c --- */
void metrics_observe(unsigned int route_index, enum api_method method,
                     unsigned int status, double seconds);
/* Renders the Prometheus text exposition; caller frees.  'recon',
 * 'keeper', 'tenant_ctl' and 'readsnap' may be NULL. */
char *metrics_render(struct db_pool *pool, struct reconciler *recon,
                     struct lease_keeper *keeper,
                     const struct vswitch_agent *tenant_ctl,
                     struct readsnap *readsnap, size_t *len);

/* --- http.c: server --- */
struct api_server;
struct http_options {
    const char *listen;             /* "IP:PORT" */
    unsigned int threads;           /* worker threads */
    unsigned int max_conns_per_ip;  /* connections one client address may
                                     * hold (0: no limit) */
    const char *tls_listen;         /* HTTPS "IP:PORT", or NULL; then */
    const char *tls_cert, *tls_key; /* PEM files, re-read by http_reload */
};
/* Starts the HTTP server.  Returns NULL and logs on failure.  'config' must
 * outlive the server; 'opt' is read only here. */
struct api_server *http_start(const struct http_options *opt,
                              const struct api_config *config);
/* Re-reads the HTTPS certificate and key (SIGHUP); the old pair stays when
 * the new one does not load. */
void http_reload(struct api_server *);
void http_stop(struct api_server *);

/* --- handlers (one file per resource group) --- */
api_handler health_healthz, health_readyz, health_metrics, health_openapi;
api_handler web_static;
api_handler topology_physical, topology_network;
api_handler clouds_list, clouds_create, clouds_get, clouds_patch, clouds_delete;
api_handler cloudlinks_list, cloudlinks_get, cloudlinks_put, cloudlinks_delete;
api_handler hosts_list, hosts_create, hosts_get, hosts_patch, hosts_delete;
api_handler tenants_list, tenants_create, tenants_get, tenants_patch, tenants_delete;
api_handler networks_list, networks_create, networks_get, networks_patch,
    networks_delete, networks_status;
api_handler switches_list, switches_create, switches_get, switches_patch,
    switches_delete;
api_handler links_list, links_create, links_get, links_patch, links_delete;
api_handler vms_list, vms_create, vms_get, vms_patch, vms_delete;
api_handler vms_stop, vms_start, vms_stats;
api_handler snapshots_list, snapshots_create, snapshots_get, snapshots_delete;
api_handler vm_migrations_list, vm_migrations_create, vm_migrations_get,
    vm_migrations_delete, vm_migrations_activate;
api_handler tokens_list, tokens_create, tokens_get, tokens_delete;
api_handler audit_list;
api_handler instances_list;
api_handler batch_post;

#endif
