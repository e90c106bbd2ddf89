/* libFuzzer target for what a tenant's controller can make the agent check
 * (ctrl/vflow.h): each message of the input that decodes as a flow-mod goes
 * through vflow_check, the canonical form (which must be stable and equal
 * to its own canonical form), covering and overlap against itself; a
 * packet-out through vflow_check_packet_out and, with its data, the packet
 * key of the agent's pipeline.  Any crash, sanitizer report or broken
 * promise is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/vflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t port_nos[] = {1, 2, 3, 7};
static const struct vflow_ports ports = {port_nos, 4};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size) {
        long n = ofmsg_frame(data, size);
        if (n <= 0 || (size_t) n > size) {
            return 0;
        }
        struct ofmsg m;
        if (ofmsg_decode(data, (size_t) n, &m) == OFERR_NONE) {
            if (m.type == OFPT_FLOW_MOD) {
                struct ofmatch c1, c2, key;
                enum oferr e = vflow_check(&m.u.flow_mod, &ports);
                vflow_match_canon(&m.u.flow_mod.match, &c1);
                vflow_match_canon(&c1, &c2);
                /* A match the check admits is one a packet can meet. */
                if (!ofmatch_equal(&c1, &c2) || !vflow_match_covers(&c1, &c2)
                    || (e == OFERR_NONE && !vflow_match_overlaps(&c1, &c2))) {
                    abort();
                }
                vflow_outputs_to(m.u.flow_mod.insts, m.u.flow_mod.n_insts, 2);
                vflow_packet_key(data, (size_t) n, 1, &key);
                vflow_match_packet(&c1, &key);
            } else if (m.type == OFPT_PACKET_OUT) {
                struct ofmatch key;
                vflow_check_packet_out(&m.u.packet_out, &ports);
                vflow_packet_key(m.u.packet_out.data, m.u.packet_out.len, 2, &key);
            }
        }
        ofmsg_uninit(&m);
        data += n;
        size -= (size_t) n;
    }
    return 0;
}
