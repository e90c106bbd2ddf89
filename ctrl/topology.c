/* topology.c: the physical topology document (see topology.h).
 *
 * Tunnels are each host's tunnel ports (netmodel_ports(): the overlay's,
 * the backups', and those of a cloud's second gateway), each pair once
 * (lower host index first); a tunnel between two gateways is inter-cloud,
 * any other intra-cloud.  An inter-cloud tunnel's role is its cloud pair's
 * in netmodel.tunnels.  LLDP links name hosts by datapath id; a link
 * whose end is not a known host keeps a null name. */
#include "ctrl/topology.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
ip_json(uint32_t ip)
{
    char s[16];
    snprintf(s, sizeof s, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
    return json_string(s);
}

/* The role of the tunnel between gateways 'a' and 'b'. */
static const char *
role_of(const struct netmodel *m, const struct nm_host *a, const struct nm_host *b)
{
    const char *ca = a->cloud >= 0 ? m->clouds[a->cloud].o.name : "";
    const char *cb = b->cloud >= 0 ? m->clouds[b->cloud].o.name : "";
    for (size_t t = 0; t < m->n_tunnels; t++) {
        const struct tunnel *tu = &m->tunnels[t];
        if ((!strcmp(tu->a, ca) && !strcmp(tu->b, cb))
            || (!strcmp(tu->a, cb) && !strcmp(tu->b, ca))) {
            return tunnels_role_name(tu->role);
        }
    }
    return tunnels_role_name(TUNNELS_TREE);
}

/* The state of the tunnel between hosts h and p from both its ends. */
static const char *
state_of(const struct netmodel *m, int h, int p, topology_tunnel_fn *tunnel, void *aux)
{
    if (!tunnel) {
        return "unknown";
    }
    char na[16], nb[16];
    netmodel_tunnel_name(m, h, p, na);
    netmodel_tunnel_name(m, p, h, nb);
    const char *sa = tunnel(aux, m->hosts[h].dpid, na);
    const char *sb = tunnel(aux, m->hosts[p].dpid, nb);
    if ((sa && !strcmp(sa, "down")) || (sb && !strcmp(sb, "down"))) {
        return "down";
    }
    return sa || sb ? "up" : "unknown";
}

/* Appends to 'tunnels' those of host h, each pair once: from its lower
 * host index. */
static void
add_tunnels(json_t *tunnels, const struct netmodel *m, int h, topology_tunnel_fn *tunnel,
            void *aux)
{
    const struct nm_host *ho = &m->hosts[h];
    struct nm_port *ports;
    size_t n;
    if (netmodel_ports(m, h, &ports, &n)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const int *p = &ports[i].peer;
        if (ports[i].kind == NM_PORT_TUNNEL && *p > h) {
            const struct nm_host *o = &m->hosts[*p];
            bool wan = ho->gateway && o->gateway;
            json_array_append_new(tunnels, json_pack(
                "{s:s, s:s, s:s, s:s, s:s}", "a", ho->o.name, "b", o->o.name,
                "kind", wan ? "inter-cloud" : "intra-cloud",
                "role", wan ? role_of(m, ho, o) : tunnels_role_name(TUNNELS_TREE),
                "state", state_of(m, h, *p, tunnel, aux)));
        }
    }
    free(ports);
}

json_t *
topology_json(const struct netmodel *m, topology_connected_fn *connected,
              topology_tunnel_fn *tunnel, void *aux,
              const struct topology_lldp *links, size_t n_links)
{
    json_t *bridges = json_array(), *tunnels = json_array(), *lldp = json_array();
    for (size_t h = 0; h < m->n_hosts; h++) {
        const struct nm_host *ho = &m->hosts[h];
        char dpid[17];
        snprintf(dpid, sizeof dpid, "%016" PRIx64, ho->dpid);
        json_array_append_new(bridges, json_pack(
            "{s:s, s:s, s:s, s:s, s:o, s:b}", "host", ho->o.name,
            "cloud", ho->cloud >= 0 ? m->clouds[ho->cloud].o.name : "",
            "bridge", ho->bridge, "dpid", dpid, "tunnel_ip", ip_json(ho->tunnel_ip),
            "connected", connected ? connected(aux, ho->dpid) : false));
        add_tunnels(tunnels, m, (int) h, tunnel, aux);
    }
    for (size_t i = 0; i < n_links; i++) {
        const struct topology_lldp *l = &links[i];
        int a = netmodel_host_by_dpid(m, l->a_dpid), b = netmodel_host_by_dpid(m, l->b_dpid);
        json_array_append_new(lldp, json_pack(
            "{s:s?, s:i, s:s?, s:i}", "a", a >= 0 ? m->hosts[a].o.name : NULL,
            "a_port", (int) l->a_port, "b", b >= 0 ? m->hosts[b].o.name : NULL,
            "b_port", (int) l->b_port));
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "layout", tunnels_layout_name(m->layout),
                     "bridges", bridges, "tunnels", tunnels, "lldp_links", lldp);
}
