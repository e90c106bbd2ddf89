/* bandwidth.h: admission control of the tenants' WAN caps
 * (migrations/010_bandwidth.sql).
 *
 * A tenant's wan_limit_mbps caps it on each inter-cloud link, and every
 * capped tenant counts on every link (its traffic may cross any of them:
 * the tunnel tree routes through transit gateways), so the caps of all
 * tenants may add up to at most the bandwidth_mbps of every link that has
 * one.  Both checks answer the first link the change would overcommit, the
 * narrowest one.  The caller holds the tenant lock
 * (store_lock(&store_tenants)) for the transaction, which serialises every
 * change of a cap or of a link's bandwidth, so two concurrent changes that
 * fit alone cannot both commit when together they do not (READ COMMITTED:
 * the check, run after the lock, sees every change committed before). */
#ifndef SKYVISOR_DB_BANDWIDTH_H
#define SKYVISOR_DB_BANDWIDTH_H

#include "db/db.h"

/* A link the change would overcommit: its clouds' names (alphabetical),
 * its bandwidth and the caps' total with the change. */
struct bandwidth_excess {
    char cloud_a[64], cloud_b[64];
    long long bandwidth_mbps;
    long long total_mbps;
    long long n_tenants;            /* capped tenants, the changed one included */
};

/* Tenant 'tenant_id' (NULL: a tenant being created) asks for cap
 * 'cap_mbps' (> 0).  DB_QS_ONE with *out when some link cannot carry the
 * caps, DB_QS_NONE when every link can, or an error. */
enum db_qs bandwidth_check_tenant(struct db_conn *, const char *tenant_id,
                                  long long cap_mbps, struct bandwidth_excess *out);
/* The link between clouds 'cloud_a' and 'cloud_b' (ids) asks for
 * bandwidth 'mbps'.  DB_QS_ONE with *out (the link named by its clouds)
 * when the tenants' caps exceed it, DB_QS_NONE when they fit. */
enum db_qs bandwidth_check_link(struct db_conn *, const char *cloud_a,
                                const char *cloud_b, long long mbps,
                                struct bandwidth_excess *out);

#endif
