/* bandwidth.c: the statements of bandwidth.h. */
#include "db/bandwidth.h"

#include <stdio.h>
#include <stdlib.h>

#include "db/conn_internal.h"

/* The caps of the tenants other than $1, plus $2. */
#define CAPS                                                                  \
    "(SELECT coalesce(sum(wan_limit_mbps), 0) + $2::bigint AS total,"         \
    "  count(*) + 1 AS n FROM tenant WHERE wan_limit_mbps IS NOT NULL"        \
    "  AND id IS DISTINCT FROM $1::uuid) s"

static const struct db_stmt check_tenant = {
    "bandwidth_check_tenant",
    "SELECT least(ca.name, cb.name), greatest(ca.name, cb.name),"
    " l.bandwidth_mbps, s.total, s.n"
    " FROM cloud_link l JOIN cloud ca ON ca.id = l.cloud_a"
    " JOIN cloud cb ON cb.id = l.cloud_b, " CAPS
    " WHERE l.bandwidth_mbps < s.total"
    " ORDER BY l.bandwidth_mbps, 1, 2 LIMIT 1", 2,
};
static const struct db_stmt check_link = {
    "bandwidth_check_link",
    "SELECT least(ca.name, cb.name), greatest(ca.name, cb.name),"
    " $3::bigint, s.total, s.n FROM cloud ca, cloud cb,"
    " (SELECT coalesce(sum(wan_limit_mbps), 0) AS total, count(*) AS n"
    "  FROM tenant WHERE wan_limit_mbps IS NOT NULL) s"
    " WHERE ca.id = $1::uuid AND cb.id = $2::uuid AND s.total > $3::bigint", 3,
};

static enum db_qs
read_excess(PGresult *res, enum db_qs qs, struct bandwidth_excess *out)
{
    if (qs == DB_QS_ONE) {
        snprintf(out->cloud_a, sizeof out->cloud_a, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->cloud_b, sizeof out->cloud_b, "%s", PQgetvalue(res, 0, 1));
        out->bandwidth_mbps = atoll(PQgetvalue(res, 0, 2));
        out->total_mbps = atoll(PQgetvalue(res, 0, 3));
        out->n_tenants = atoll(PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    return qs;
}

enum db_qs
bandwidth_check_tenant(struct db_conn *c, const char *tenant_id, long long cap_mbps,
                       struct bandwidth_excess *out)
{
    char cap[24];
    snprintf(cap, sizeof cap, "%lld", cap_mbps);
    const char *params[] = {tenant_id, cap};
    PGresult *res;
    enum db_qs qs = db_exec(c, &check_tenant, params, &res);
    return read_excess(res, qs, out);
}

enum db_qs
bandwidth_check_link(struct db_conn *c, const char *cloud_a, const char *cloud_b,
                     long long mbps, struct bandwidth_excess *out)
{
    char bw[24];
    snprintf(bw, sizeof bw, "%lld", mbps);
    const char *params[] = {cloud_a, cloud_b, bw};
    PGresult *res;
    enum db_qs qs = db_exec(c, &check_link, params, &res);
    return read_excess(res, qs, out);
}
