/* lease.c: the lease decision (see lease.h for the rule table). */
#include "core/lease.h"

#include <string.h>

const char *
lease_action_name(enum lease_action a)
{
    static const char *const names[] = {
        [LEASE_NONE] = "none", [LEASE_ACQUIRE] = "acquire", [LEASE_RENEW] = "renew",
        [LEASE_YIELD] = "yield", [LEASE_DROP] = "drop",
    };
    return (unsigned int) a <= LEASE_DROP ? names[a] : "?";
}

bool
lease_peer_alive(const struct lease_peer *p)
{
    return p->heartbeat_age_ms >= 0 && p->heartbeat_age_ms <= (long long) p->lease_ms;
}

bool
lease_peer_settled(const struct lease_policy *pol, const struct lease_peer *p)
{
    unsigned int settle = pol->settle_ms ? pol->settle_ms : 2 * pol->lease_ms;
    return lease_peer_alive(p) && p->healthy_ms >= (long long) settle;
}

/* Whether this instance is pinned to 'c' (*mine), and whether another
 * settled instance is (*other). */
static void
pins_of(const struct lease_policy *pol, const struct lease_view *v,
        const struct lease_cloud *c, bool *mine, bool *other)
{
    *mine = *other = false;
    for (size_t i = 0; i < c->n_pins && i < LEASE_MAX_PINS; i++) {
        if (c->pins[i] >= v->n_peers) {
            continue;
        }
        const struct lease_peer *p = &v->peers[c->pins[i]];
        if (!strcmp(p->id, pol->self)) {
            *mine = true;
        } else if (lease_peer_settled(pol, p)) {
            *other = true;
        }
    }
}

enum lease_action
lease_decide(const struct lease_policy *pol, const struct lease_view *v,
             const struct lease_cloud *c, bool held, uint64_t held_epoch)
{
    bool mine, other;
    pins_of(pol, v, c, &mine, &other);
    bool expired = !c->leased || !c->holder[0] || c->expires_in_ms <= 0;
    if (held) {
        if (!c->leased || strcmp(c->holder, pol->self) || c->epoch != held_epoch
            || c->expires_in_ms <= 0) {
            return LEASE_DROP;
        }
        return !mine && other ? LEASE_YIELD : LEASE_RENEW;
    }
    if (!expired) {
        return LEASE_NONE;
    }
    if (mine) {
        return LEASE_ACQUIRE;
    }
    if (other) {
        /* Leave it to the settled pinned instance, unless it let it lie
         * for a whole lease (then it is not coming). */
        bool long_free = c->leased && c->expires_in_ms < -(long long) pol->lease_ms;
        return long_free ? LEASE_ACQUIRE : LEASE_NONE;
    }
    return LEASE_ACQUIRE;
}
