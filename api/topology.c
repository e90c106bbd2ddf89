/* topology.c: the two views of topology.
 *
 * GET /v1/topology (admin): the physical topology (ctrl/topology.h): the
 * bridges with their datapath ids and whether they are connected, the
 * tunnels the overlay wants (intra-cloud host-gateway, inter-cloud
 * gateway-gateway) and the links the platform's own LLDP probes confirmed.
 * Served from the reconciler's snapshot, with no database round trip; with
 * --no-reconciler, built from the desired state (nothing connected).
 *
 * GET /v1/tenants/{tenant}/networks/{network}/topology (the tenant or the
 * admin): the tenant's virtual topology, from the database so it answers
 * with or without a reconciler: its switches with their VMs, its links,
 * and its segments (core/vtopo.h): the sets of switches, and so of VMs,
 * that can reach each other.  Nothing physical leaks into it: no host
 * bridges, tunnels or other tenants. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/crud.h"
#include "core/vtopo.h"
#include "ctrl/reconciler.h"
#include "ctrl/topology.h"
#include "db/state.h"
#include "db/store.h"

/* Without a reconciler: the same document from the desired state, loaded
 * as the reconciler would load it; nothing is connected and no LLDP link
 * is known.  NULL when the database fails (*qs < 0) or memory runs out. */
static json_t *
physical_from_db(struct api_req *req, enum db_qs *qs)
{
    struct netmodel m;
    netmodel_init(&m);
    json_t *t = NULL;
    *qs = state_load(req->db, &m);
    if (*qs == DB_QS_ONE) {
        m.layout = req->config->layout;
        if (!netmodel_finish(&m)) {
            t = topology_json(&m, NULL, NULL, NULL, NULL, 0);
        }
    }
    netmodel_free(&m);
    return t;
}

void
topology_physical(struct api_req *req, struct api_resp *resp)
{
    json_t *t;
    if (req->config->recon) {
        t = reconciler_topology(req->config->recon);
        if (!t) {
            api_problem(resp, req, SVE_NO_RECONCILER, NULL,
                        "the reconciler has not loaded the desired state yet");
            return;
        }
    } else {
        enum db_qs qs = DB_QS_ONE;
        t = physical_from_db(req, &qs);
        if (!t && qs < 0) {
            crud_db_problem(req, resp, qs, "topology", NULL);
            return;
        }
    }
    char *body = t ? json_dumps(t, JSON_COMPACT) : NULL;
    json_decref(t);
    if (!body) {
        api_problem(resp, req, SVE_INTERNAL, NULL, "out of memory");
        return;
    }
    crud_reply_computed(req, resp, body, strlen(body));
}

/* Adds "segments" to the topology document 'doc' (borrowed): an array of
 * {"switches": [names], "vms": [names]}.  0 or ENOMEM. */
static int
add_segments(json_t *doc)
{
    json_t *switches = json_object_get(doc, "switches");
    json_t *links = json_object_get(doc, "links");
    size_t n = json_array_size(switches), nl = json_array_size(links);
    size_t *seg = calloc(n + 1, sizeof *seg), *scratch = calloc(n + 1, sizeof *scratch);
    struct vtopo_link *l = calloc(nl + 1, sizeof *l);
    json_t *segments = json_array();
    int rc = ENOMEM;
    if (!seg || !scratch || !l || !segments) {
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < nl; i++) {
        const char *a = json_string_value(json_object_get(json_array_get(links, i), "a"));
        const char *b = json_string_value(json_object_get(json_array_get(links, i), "b"));
        size_t ia = n, ib = n;
        for (size_t s = 0; s < n && a && b; s++) {
            const char *name = json_string_value(
                json_object_get(json_array_get(switches, s), "name"));
            if (name && !strcmp(name, a)) {
                ia = s;
            }
            if (name && !strcmp(name, b)) {
                ib = s;
            }
        }
        l[m++] = (struct vtopo_link) {ia, ib};
    }
    size_t n_seg = vtopo_segments(n, l, m, seg, scratch);
    for (size_t k = 0; k < n_seg; k++) {
        json_t *sw = json_array(), *vms = json_array();
        for (size_t s = 0; s < n; s++) {
            if (seg[s] != k) {
                continue;
            }
            json_t *o = json_array_get(switches, s);
            json_array_append(sw, json_object_get(o, "name"));
            json_t *v = json_object_get(o, "vms");
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_array_append(vms, json_object_get(json_array_get(v, i), "name"));
            }
        }
        json_array_append_new(segments, json_pack("{s:o, s:o}", "switches", sw, "vms", vms));
    }
    json_object_set(doc, "segments", segments);
    rc = 0;
out:
    json_decref(segments);
    free(seg);
    free(scratch);
    free(l);
    return rc;
}

/* Parses the database's topology text (consumed) and adds the segments;
 * the reply body, or NULL when memory runs out. */
static char *
finish_network(char *text)
{
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    char *body = NULL;
    if (doc && !add_segments(doc)) {
        body = json_dumps(doc, JSON_COMPACT);
    }
    json_decref(doc);
    return body;
}

void
topology_network(struct api_req *req, struct api_resp *resp)
{
    crud_network_doc(req, resp, store_network_topology, finish_network);
}
