/* placement.h: where a VM goes.
 *
 * A VM's placement is one of
 *   {host}                         exactly that host;
 *   {cloud}                        the least-loaded worker host of that cloud;
 *   {jurisdiction, avoid_clouds}   among the worker hosts of clouds whose
 *                                  jurisdiction is listed (any, when the list
 *                                  is absent) and that are not avoided: the
 *                                  cheapest cloud first (cost_per_hour), then
 *                                  the least-loaded host, then by name.
 * "Worker" excludes gateways: a gateway only takes VMs when named
 * explicitly.  A host is full when used >= capacity.  Pure: the caller loads
 * the candidate hosts (under a lock that serialises placements) and stores
 * the choice. */
#ifndef SKYVISOR_CORE_PLACEMENT_H
#define SKYVISOR_CORE_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

struct placement_host {
    const char *host_id;
    const char *host_name;
    const char *cloud_id;
    const char *cloud_name;
    const char *jurisdiction;   /* ISO 3166-1 alpha-2 */
    bool gateway;
    unsigned int capacity;
    unsigned int used;
    double cost_per_hour;       /* of the host's cloud */
};

enum placement_kind { PLACEMENT_HOST, PLACEMENT_CLOUD, PLACEMENT_CONSTRAINTS };

struct placement_req {
    enum placement_kind kind;
    const char *target;                 /* HOST, CLOUD: name or id */
    const char *const *jurisdictions;   /* CONSTRAINTS: NULL = any */
    size_t n_jurisdictions;
    const char *const *avoid_clouds;    /* CONSTRAINTS: names or ids */
    size_t n_avoid_clouds;
};

/* Chooses a host for 'req' among 'hosts[0..n)'.  Returns 0 and sets *chosen,
 * ENOENT when no host matches the request at all, or ENOSPC when matching
 * hosts exist but are all full; on failure writes a human-readable reason
 * into 'reason' (always NUL-terminated). */
int placement_choose(const struct placement_req *req,
                     const struct placement_host *hosts, size_t n,
                     size_t *chosen, char *reason, size_t reason_len);

#endif
