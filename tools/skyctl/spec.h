/* spec.h: skyctl's declaration file, read into a set of declared objects.
 *
 * The file is YAML (libyaml) or JSON (jansson; chosen by a ".json" name or
 * a first non-blank character '{').  Its schema, every key optional except
 * where marked (req):
 *
 *   name: demo                 # the file's id, the value of the label
 *                              # skyctl.managed-by; default: the file's
 *                              # base name without its extension
 *   clouds:
 *     - {name (req), provider (req), region (req), jurisdiction (req),
 *        kind (req), cost_per_hour, labels}
 *   cloud_links:
 *     - {a (req), b (req), cost (req), rtt_ms, bandwidth_mbps}
 *   hosts:
 *     - {name (req), cloud (req), role, tunnel_ip (req), public_ip,
 *        capacity, ovsdb (req), bridge, datapath, openflow, controller,
 *        labels}
 *   tenants:
 *     - name (req)
 *       labels: {...}          # set at creation only
 *       wan_limit_mbps         # the tenant's cap per inter-cloud link
 *       networks:
 *         - name (req)
 *           subnet (req), tagging, labels
 *           switches: [front, {name: back, labels: {...}}]
 *           links: ["front--back", {a: front, b: back, name, bandwidth_mbps,
 *                                   labels}]
 *           vms:
 *             - {name (req), switch (req), mac (req), ip (req), iface,
 *                placement (req): {host: H} | {cloud: C} |
 *                {jurisdiction: [..], avoid_clouds: [..]}, rate_mbps,
 *                burst_kb, labels}
 *
 * Field names and values are the API's (openapi/openapi.json); the server
 * checks the values, this loader checks the shape: unknown keys, missing
 * required keys, wrong types and duplicate names are errors naming the
 * path ("tenants[0].networks[0].vms[2].mac").  A link's name defaults to its
 * two switch names sorted and joined by "--", as the API does; a cloud link
 * is named the same way from its clouds.  Numbers given for string fields
 * (cost_per_hour: 0.096) are taken as their text.  Fields a file leaves out
 * are not managed: skyctl never changes them on the server, except where
 * the API ties two fields together (a host given openflow loses its
 * controller and the reverse; a host given role "host" loses its public_ip). */
#ifndef SKYCTL_SPEC_H
#define SKYCTL_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "tools/skyctl/model.h"

struct spec {
    char *id;                   /* owned */
    struct model_set objs;      /* declared objects, in file order */
};

/* Reads and checks 'path'.  Returns 0, or an errno-style code with a
 * message in err.  On success the caller owns *out (spec_uninit). */
int spec_load_file(const char *path, struct spec *out, char *err, size_t errlen);
/* Same from memory: 'json' selects the parser, 'default_id' is the id used
 * when the document has no "name". */
int spec_load_buffer(const char *buf, size_t len, bool json, const char *default_id,
                     struct spec *out, char *err, size_t errlen);
void spec_uninit(struct spec *);

#endif
