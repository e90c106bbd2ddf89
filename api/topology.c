/* topology.c: GET /v1/topology, the physical topology the admin sees.
 *
 * Served from the reconciler's snapshot (ctrl/reconciler.h): the bridges
 * with their datapath ids and whether they are connected, the tunnels the
 * overlay wants (intra-cloud host-gateway, inter-cloud gateway-gateway) and
 * the links LLDP confirmed.  No database round trip. */
#include "api/api.h"
#include "ctrl/reconciler.h"

void
topology_physical(struct api_req *req, struct api_resp *resp)
{
    if (!req->config->recon) {
        api_problem(resp, req, SVE_NO_RECONCILER, NULL,
                    "skyvisord runs with --no-reconciler: no physical topology");
        return;
    }
    json_t *t = reconciler_topology(req->config->recon);
    if (!t) {
        api_problem(resp, req, SVE_NO_RECONCILER, NULL,
                    "the reconciler has not loaded the desired state yet");
        return;
    }
    api_reply_json(resp, 200, t);
}
