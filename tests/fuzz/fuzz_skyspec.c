/* libFuzzer target for skyctl's declaration loader (tools/skyctl/spec.c).
 *
 * The first byte picks the parser (even: YAML through libyaml, odd: JSON
 * through jansson), the rest is the file.  The loader must either accept
 * the document or refuse it with a message; on acceptance every object it
 * built is released by spec_uninit.  Any crash, sanitizer report or leak
 * is a finding. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/skyctl/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    bool json = data[0] & 1;
    struct spec s;
    char err[512];
    err[0] = 0;
    int rc = spec_load_buffer((const char *) data + 1, size - 1, json, "fuzz", &s,
                              err, sizeof err);
    if (rc) {
        /* A refusal always says why. */
        if (!err[0]) {
            abort();
        }
        return 0;
    }
    spec_uninit(&s);
    return 0;
}
