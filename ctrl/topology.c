/* topology.c: the physical topology document (see topology.h).
 *
 * Tunnels come from the overlay adjacency (netmodel.adj), each pair once
 * (lower host index first); a tunnel between two gateways is inter-cloud,
 * any other intra-cloud.  LLDP links name hosts by datapath id; a link
 * whose end is not a known host keeps a null name. */
#include "ctrl/topology.h"

#include <inttypes.h>
#include <stdio.h>

static json_t *
ip_json(uint32_t ip)
{
    char s[16];
    snprintf(s, sizeof s, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
    return json_string(s);
}

json_t *
topology_json(const struct netmodel *m, topology_connected_fn *connected, void *aux,
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
        for (const int *p = m->adj[h]; *p >= 0; p++) {
            if (*p > (int) h) {
                const struct nm_host *o = &m->hosts[*p];
                bool wan = ho->gateway && o->gateway;
                json_array_append_new(tunnels, json_pack(
                    "{s:s, s:s, s:s}", "a", ho->o.name, "b", o->o.name,
                    "kind", wan ? "inter-cloud" : "intra-cloud"));
            }
        }
    }
    for (size_t i = 0; i < n_links; i++) {
        const struct topology_lldp *l = &links[i];
        int a = netmodel_host_by_dpid(m, l->a_dpid), b = netmodel_host_by_dpid(m, l->b_dpid);
        json_array_append_new(lldp, json_pack(
            "{s:s?, s:i, s:s?, s:i}", "a", a >= 0 ? m->hosts[a].o.name : NULL,
            "a_port", (int) l->a_port, "b", b >= 0 ? m->hosts[b].o.name : NULL,
            "b_port", (int) l->b_port));
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "layout",
                     m->layout == TUNNELS_MST ? "mst" : "full-mesh",
                     "bridges", bridges, "tunnels", tunnels, "lldp_links", lldp);
}
