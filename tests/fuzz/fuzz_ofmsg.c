/* libFuzzer target for the OpenFlow 1.3 decoder.
 *
 * Splits the input into messages the way a connection does (ofmsg_frame),
 * decodes each, and for every message that decodes checks the codec's
 * promise: its encoding decodes again and re-encodes to the same bytes (the
 * input itself may differ only in padding, which is not kept); for every
 * message that does not, the error reply can be built.  Any crash,
 * sanitizer report or leak is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ofmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size) {
        long n = ofmsg_frame(data, size);
        if (n <= 0) {
            /* Incomplete or impossible header: the connection would wait or
             * close.  Still exercise the decoder on what is there. */
            struct ofmsg m;
            ofmsg_decode(data, size, &m);
            ofmsg_uninit(&m);
            return 0;
        }
        struct ofmsg m;
        struct buf b;
        buf_init(&b);
        enum oferr e = ofmsg_decode(data, (size_t) n, &m);
        if (!e) {
            struct ofmsg again;
            struct buf b2;
            buf_init(&b2);
            if (ofmsg_encode(&m, &b) || b.len != (size_t) n
                || ofmsg_decode(b.data, b.len, &again)
                || ofmsg_encode(&again, &b2) || b2.len != b.len
                || memcmp(b.data, b2.data, b.len)) {
                abort();    /* decode/encode disagree */
            }
            ofmsg_uninit(&again);
            buf_uninit(&b2);
        } else {
            ofmsg_encode_error_reply(e, data, (size_t) n, &b);
            if (b.failed || b.len < 12) {
                abort();
            }
        }
        buf_uninit(&b);
        ofmsg_uninit(&m);
        data += n;
        size -= (size_t) n;
    }
    return 0;
}
