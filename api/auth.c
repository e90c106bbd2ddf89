/* auth.c: bearer tokens.
 *
 * Admin tokens come from one of two places:
 *   - SKYVISOR_ADMIN_TOKEN: one token, fixed for the life of the process;
 *   - --admin-token-file FILE: every non-empty line not starting with '#'
 *     is an admin token (at least AUTH_MIN_ADMIN_TOKEN characters; shorter
 *     lines are ignored with a warning).  The file is re-read as soon as it
 *     changes: each authentication stat()s it and compares device, inode,
 *     size, mtime and ctime with the copy in memory, so the request after a
 *     rewrite (or an atomic rename onto FILE) already uses the new tokens,
 *     with no signal and no restart (a file changed within the last two
 *     seconds is also compared by content, see admin_file_refresh).
 *     Rotation without downtime: add the new token as a second line, move
 *     the clients over, remove the old line.  A file that disappears or
 *     cannot be read holds no tokens (the admin API is closed until it is
 *     back), never the old ones.
 * Admin tokens are compared in constant time and never stored elsewhere.
 *
 * Tenant tokens ("svt_" + 64 hex digits from getrandom, shown once at
 * creation; the database keeps only their SHA-256) are looked up in the
 * database on every request, with no cache, so a revoked token stops at
 * once on every skyvisord (db/tokens.c).  Each is 'read-write' or
 * 'read-only'; a read-only token may not POST, PUT, PATCH or DELETE (403
 * read-only-token), which also keeps it from minting or revoking tokens.
 *
 * Access classes (api.h): a tenant token on an admin route is 403; on a
 * tenant route naming another tenant it is 404, so a tenant cannot probe
 * which other tenants exist (this check comes before the read-only one).
 *
 * Actor: after a successful check the request's connection carries the
 * actor the audit trail records for its transactions: "admin", or
 * "tenant:<tenant id>/token:<token id>"; it is cleared first, so a
 * connection never keeps the actor of an earlier request.  Public routes
 * skip the check and never write. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api.h"
#include "core/vlog.h"
#include "db/db.h"
#include "db/store.h"

#define TOKEN_PREFIX "svt_"
#define TOKEN_LEN (4 + 64)
#define ADMIN_FILE_MAX (64 * 1024)

static bool
const_time_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char) (la != lb);
    for (size_t i = 0; i < la; i++) {
        diff |= (unsigned char) (a[i] ^ b[i % (lb ? lb : 1)]);
    }
    return diff == 0;
}

int
auth_new_token(char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    if (len < TOKEN_LEN + 1 || getrandom(raw, sizeof raw, 0) != sizeof raw) {
        return -1;
    }
    memcpy(out, TOKEN_PREFIX, 4);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[4 + 2 * i] = hex[raw[i] >> 4];
        out[5 + 2 * i] = hex[raw[i] & 15];
    }
    out[TOKEN_LEN] = '\0';
    return 0;
}

static bool
token_well_formed(const char *t)
{
    if (strlen(t) != TOKEN_LEN || strncmp(t, TOKEN_PREFIX, 4)) {
        return false;
    }
    return strspn(t + 4, "0123456789abcdef") == 64;
}

/* --- the admin token file --- */

/* The file's tokens as last read, and the identity (stat) of what was
 * read: all zero when it could not be.  Readers compare under the read
 * lock; a change takes the write lock. */
static struct {
    pthread_rwlock_t lock;
    bool loaded;
    struct stat seen;
    int error;              /* errno of the last read, 0 when it worked */
    size_t n;               /* tokens held */
    char *tokens;           /* "tok1\0tok2\0\0", owned; NULL: none */
} admin_file = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static bool
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino
           && a->st_size == b->st_size
           && a->st_mtim.tv_sec == b->st_mtim.tv_sec
           && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
           && a->st_ctim.tv_sec == b->st_ctim.tv_sec
           && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Parses 'text' (NUL-terminated, modified) into the "tok\0tok\0\0" form.
 * Returns the malloc'ed list (caller owns) and the count in *n. */
static char *
parse_tokens(char *text, const char *path, size_t *n)
{
    size_t len = strlen(text);
    char *out = malloc(len + 2), *w = out;
    *n = 0;
    if (!out) {
        return NULL;
    }
    unsigned int line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        line += strspn(line, " \t\r");
        size_t l = strlen(line);
        while (l && strchr(" \t\r", line[l - 1])) {
            line[--l] = '\0';
        }
        if (!l || line[0] == '#') {
            continue;
        }
        if (l < AUTH_MIN_ADMIN_TOKEN) {
            vlog(VLOG_WARN, "auth", "%s: a line (%u) shorter than %d characters "
                 "is not an admin token", path, line_no, AUTH_MIN_ADMIN_TOKEN);
            continue;
        }
        memcpy(w, line, l + 1);
        w += l + 1;
        (*n)++;
    }
    *w = '\0';
    return out;
}

/* Reads the whole of 'path' (at most ADMIN_FILE_MAX bytes) and parses it;
 * *st receives the identity of what was read.  Returns 0 or an errno. */
static int
read_tokens(const char *path, struct stat *st, char **tokens, size_t *n)
{
    *tokens = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        return errno;
    }
    int error = 0;
    char *text = malloc(ADMIN_FILE_MAX + 1);
    size_t got = text ? fread(text, 1, ADMIN_FILE_MAX + 1, f) : 0;
    if (!text) {
        error = ENOMEM;
    } else if (ferror(f) || fstat(fileno(f), st)) {
        error = EIO;
    } else if (got > ADMIN_FILE_MAX) {
        error = EFBIG;
    } else {
        text[got] = '\0';
        *tokens = parse_tokens(text, path, n);
        error = *tokens ? 0 : ENOMEM;
    }
    free(text);
    fclose(f);
    return error;
}

/* Length of a "tok\0tok\0\0" list, both final NULs included. */
static size_t
tokens_size(const char *t)
{
    const char *p = t;
    while (*p) {
        p += strlen(p) + 1;
    }
    return (size_t) (p - t) + 1;
}

/* Re-reads the file unless the one in memory has the identity the file
 * has now.  Timestamps move in clock ticks, not nanoseconds, so a file
 * rewritten in place to the same size within one tick keeps its identity:
 * like git's "racily clean" entries, a file changed less than two seconds
 * ago is read again on every call and compared by content. */
static void
admin_file_refresh(const char *path)
{
    struct stat st = {0};
    if (stat(path, &st)) {
        memset(&st, 0, sizeof st);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_rwlock_rdlock(&admin_file.lock);
    bool current = admin_file.loaded && same_file(&st, &admin_file.seen);
    bool racy = st.st_ino && now.tv_sec - st.st_mtim.tv_sec < 2;
    pthread_rwlock_unlock(&admin_file.lock);
    if (current && !racy) {
        return;
    }
    char *tokens;
    size_t n;
    int error = st.st_ino ? read_tokens(path, &st, &tokens, &n) : ENOENT;
    pthread_rwlock_wrlock(&admin_file.lock);
    bool same = admin_file.loaded && error == admin_file.error
                && (error || (admin_file.tokens && tokens_size(tokens)
                                                     == tokens_size(admin_file.tokens)
                              && !memcmp(tokens, admin_file.tokens,
                                         tokens_size(tokens))));
    if (same) {
        free(error ? NULL : tokens);
    } else {
        free(admin_file.tokens);
        admin_file.tokens = error ? NULL : tokens;
        admin_file.n = error ? 0 : n;
        admin_file.error = error;
    }
    admin_file.seen = st;
    admin_file.loaded = true;
    pthread_rwlock_unlock(&admin_file.lock);
    if (same) {
        return;
    }
    if (error) {
        vlog(VLOG_WARN, "auth", "cannot read the admin token file %s: %s; no "
             "admin token is valid until it can be read", path, strerror(error));
    } else {
        vlog(VLOG_INFO, "auth", "read %zu admin token%s from %s", n,
             n == 1 ? "" : "s", path);
    }
}

int
auth_admin_file_load(const char *path, char *err, size_t errlen)
{
    admin_file_refresh(path);
    pthread_rwlock_rdlock(&admin_file.lock);
    int error = admin_file.error;
    size_t n = admin_file.n;
    pthread_rwlock_unlock(&admin_file.lock);
    if (error) {
        snprintf(err, errlen, "cannot read the admin token file %s: %s", path,
                 strerror(error));
        return error;
    }
    if (n == 0) {
        snprintf(err, errlen, "the admin token file %s holds no token of at "
                 "least %d characters", path, AUTH_MIN_ADMIN_TOKEN);
        return EINVAL;
    }
    return 0;
}

static bool
is_admin_token(const struct api_config *config, const char *token)
{
    if (!config->admin_token_file) {
        return config->admin_token && const_time_equal(token, config->admin_token);
    }
    admin_file_refresh(config->admin_token_file);
    bool match = false;
    pthread_rwlock_rdlock(&admin_file.lock);
    for (const char *t = admin_file.tokens; t && *t; t += strlen(t) + 1) {
        match |= const_time_equal(token, t);
    }
    pthread_rwlock_unlock(&admin_file.lock);
    return match;
}

/* --- the check --- */

static bool
is_write(enum api_method m)
{
    return m == API_POST || m == API_PUT || m == API_PATCH || m == API_DELETE;
}

enum sv_error
auth_check(struct api_req *req, struct api_resp *resp)
{
    if (req->db) {
        db_conn_set_actor(req->db, NULL);
    }
    const char *h = api_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) || !h[7]) {
        api_problem(resp, req, SVE_UNAUTHORIZED, NULL,
                    "send 'Authorization: Bearer <token>'");
        return SVE_UNAUTHORIZED;
    }
    const char *token = h + 7;
    if (is_admin_token(req->config, token)) {
        req->principal.admin = true;
        db_conn_set_actor(req->db, "admin");
        return SVE_OK;
    }
    if (!token_well_formed(token)) {
        api_problem(resp, req, SVE_UNAUTHORIZED, NULL, "the token is not valid");
        return SVE_UNAUTHORIZED;
    }
    const char *path_tenant = req->route->access == ACCESS_TENANT
                                  ? req->params[0] : NULL;
    struct store_token_auth found;
    enum db_qs qs = store_token_auth(req->db, token, path_tenant, &found);
    if (qs < 0) {
        api_problem(resp, req, SVE_DB_UNAVAILABLE, NULL,
                    "cannot check the token: %s", db_conn_error(req->db)->message);
        return SVE_DB_UNAVAILABLE;
    }
    if (qs == DB_QS_NONE) {
        api_problem(resp, req, SVE_UNAUTHORIZED, NULL, "the token is not valid");
        return SVE_UNAUTHORIZED;
    }
    if (req->route->access == ACCESS_ADMIN) {
        api_problem(resp, req, SVE_FORBIDDEN, NULL,
                    "%s %s needs the admin token", router_method_name(req->method),
                    req->route->pattern);
        return SVE_FORBIDDEN;
    }
    if (!found.path_is_own) {
        api_problem(resp, req, SVE_NOT_FOUND, "tenant", "no tenant '%s'",
                    req->params[0]);
        return SVE_NOT_FOUND;
    }
    if (found.read_only && is_write(req->method)) {
        api_problem(resp, req, SVE_READ_ONLY_TOKEN, NULL,
                    "%s %s needs a read-write token; this one is read-only",
                    router_method_name(req->method), req->route->pattern);
        return SVE_READ_ONLY_TOKEN;
    }
    memcpy(req->principal.tenant_id, found.tenant_id, sizeof found.tenant_id);
    memcpy(req->principal.token_id, found.token_id, sizeof found.token_id);
    req->principal.read_only = found.read_only;
    char actor[128];
    snprintf(actor, sizeof actor, "tenant:%s/token:%s", found.tenant_id,
             found.token_id);
    db_conn_set_actor(req->db, actor);
    return SVE_OK;
}
