/* auth.c: bearer tokens.
 *
 * Two kinds of token: the admin token (from SKYVISOR_ADMIN_TOKEN, compared
 * in constant time, never stored) and tenant tokens ("svt_" + 64 hex
 * digits from getrandom, shown once at creation; the database keeps only
 * their SHA-256).  Access classes (api.h): a tenant token on an admin route
 * is 403; on a tenant route naming another tenant it is 404, so a tenant
 * cannot probe which other tenants exist. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "api/api.h"
#include "db/db.h"
#include "db/store.h"

#define TOKEN_PREFIX "svt_"
#define TOKEN_LEN (4 + 64)

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

enum sv_error
auth_check(struct api_req *req, struct api_resp *resp)
{
    const char *h = api_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) || !h[7]) {
        api_problem(resp, req, SVE_UNAUTHORIZED, NULL,
                    "send 'Authorization: Bearer <token>'");
        return SVE_UNAUTHORIZED;
    }
    const char *token = h + 7;
    if (const_time_equal(token, req->config->admin_token)) {
        req->principal.admin = true;
        return SVE_OK;
    }
    if (!token_well_formed(token)) {
        api_problem(resp, req, SVE_UNAUTHORIZED, NULL, "the token is not valid");
        return SVE_UNAUTHORIZED;
    }
    bool path_is_own = false;
    const char *path_tenant = req->route->access == ACCESS_TENANT
                                  ? req->params[0] : NULL;
    enum db_qs qs = store_tenant_by_token(req->db, token, path_tenant,
                                          req->principal.tenant_id,
                                          &path_is_own);
    if (qs < 0) {
        api_problem(resp, req, SVE_DB_UNAVAILABLE, NULL,
                    "cannot check the token: %s", req->db->err.message);
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
    if (!path_is_own) {
        api_problem(resp, req, SVE_NOT_FOUND, "tenant", "no tenant '%s'",
                    req->params[0]);
        return SVE_NOT_FOUND;
    }
    return SVE_OK;
}
