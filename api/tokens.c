/* tokens.c: /v1/tenants/{tenant}/tokens, a tenant's API tokens.
 *
 * A token is created (POST: the secret is in that 201 answer and nowhere
 * else, ever), listed and read without its secret, and revoked (DELETE);
 * it has no PATCH: a token whose name, scope or expiry should change is
 * replaced by a new one.  Fields: name (unique in the tenant), scope
 * ('read-write', the default, or 'read-only'), expires_at (RFC 3339, in
 * the future, or null: never), and, set by the server, last_used_at (to
 * the minute), created_by (the actor that created it) and created_at.
 *
 * Who may: the admin, for any tenant; a tenant with a read-write token,
 * for itself (create read-write or read-only tokens, revoke any of its
 * tokens, including the one it is using).  A read-only token may list and
 * read the tenant's tokens but not create or revoke any: auth.c refuses
 * every write it attempts.  Deleting the tenant deletes its tokens. */
#include "api/tokens.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct crud_field fields[] = {
    {"id", CT_STRING, CF_READONLY},
    {"name", CT_STRING, CF_REQUIRED},
    {"tenant_id", CT_STRING, CF_READONLY},
    {"scope", CT_STRING, 0},
    {"expires_at", CT_STRING, CF_NULLABLE},
    {"token", CT_STRING, CF_READONLY},
    {"last_used_at", CT_STRING, CF_READONLY},
    {"created_by", CT_STRING, CF_READONLY},
    {"created_at", CT_STRING, CF_READONLY},
    {NULL, 0, 0},
};

bool
tokens_mint(struct crud_ctx *ctx, json_t *obj)
{
    char token[80];
    if (auth_new_token(token, sizeof token)) {
        return crud_fail(ctx, SVE_INTERNAL, NULL, "cannot draw random bytes for "
                         "the token");
    }
    json_object_set_new(obj, "_token", json_string(token));
    json_decref(ctx->extra);
    ctx->extra = json_string(token);
    return true;
}

void
tokens_show(struct crud_ctx *ctx, json_t *body)
{
    json_object_set(body, "token", ctx->extra);
}

/* Reads 'n' decimal digits at *p into *v, advancing *p. */
static bool
digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') {
            return false;
        }
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/* Parses an RFC 3339 date-time ("2030-01-31T12:00:00Z", fractions and
 * "+HH:MM" offsets allowed) into seconds since the epoch. */
static bool
rfc3339_parse(const char *s, time_t *out)
{
    struct tm tm = {0};
    int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
    if (!digits(&s, 4, &year) || *s++ != '-' || !digits(&s, 2, &mon) || *s++ != '-'
        || !digits(&s, 2, &day) || (*s != 'T' && *s != 't') || !*s++
        || !digits(&s, 2, &hour) || *s++ != ':' || !digits(&s, 2, &min)
        || *s++ != ':' || !digits(&s, 2, &sec)) {
        return false;
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9') {
            return false;
        }
        s += strspn(s, "0123456789");
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '+' ? 1 : -1;
        if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23
            || om > 59) {
            return false;
        }
    } else {
        return false;
    }
    if (*s || year < 1970 || mon < 1 || mon > 12 || day < 1 || hour > 23
        || min > 59 || sec > 59) {
        return false;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != day || tm.tm_mon != mon - 1) {
        return false;           /* normalised: 31 April, 29 February 2031 */
    }
    *out = t - sign * (oh * 3600 + om * 60);
    return true;
}

static bool
validate(struct crud_ctx *ctx, json_t *obj)
{
    static const char *const scopes[] = {"read-write", "read-only", NULL};
    if (!crud_valid_name(ctx, obj)) {
        return false;
    }
    if (!json_object_get(obj, "scope")) {
        json_object_set_new(obj, "scope", json_string("read-write"));
    }
    if (!crud_one_of(crud_str(obj, "scope"), scopes)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "scope", "scope is 'read-write' "
                         "or 'read-only'");
    }
    const char *expires = crud_str(obj, "expires_at");
    time_t when;
    if (expires && !rfc3339_parse(expires, &when)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "expires_at", "expires_at is an "
                         "RFC 3339 date-time such as 2030-01-31T12:00:00Z");
    }
    if (expires && when <= time(NULL)) {
        return crud_fail(ctx, SVE_INVALID_VALUE, "expires_at", "expires_at is "
                         "in the past");
    }
    return true;
}

static const struct crud_res crud_tokens = {
    .store = &store_tokens,
    .fields = fields,
    .parent = &crud_tenants,
    .kind = "token",
    .validate = validate,
    .before_insert = tokens_mint,
    .decorate_created = tokens_show,
};

void tokens_list(struct api_req *q, struct api_resp *r) { crud_list(q, r, &crud_tokens); }
void tokens_create(struct api_req *q, struct api_resp *r) { crud_create(q, r, &crud_tokens); }
void tokens_get(struct api_req *q, struct api_resp *r) { crud_get(q, r, &crud_tokens); }
void tokens_delete(struct api_req *q, struct api_resp *r) { crud_delete(q, r, &crud_tokens); }
