/* oferr.h: the errors of the OpenFlow decoders (rows in ctrl/oferr.def).
 * OFERR_NONE is 0; every other value maps to the (type, code) pair the
 * controller puts in its OFPT_ERROR reply to the message it rejected. */
#ifndef SKYVISOR_CTRL_OFERR_H
#define SKYVISOR_CTRL_OFERR_H

#include <stdint.h>

enum oferr {
    OFERR_NONE = 0,
#define OFERR(ID, TYPE, CODE, DESC) OFERR_##ID,
#include "ctrl/oferr.def"
#undef OFERR
    OFERR__COUNT
};

uint16_t oferr_type(enum oferr);
uint16_t oferr_code(enum oferr);
/* "BAD_MATCH_BAD_LEN: length problem in match"; static storage. */
const char *oferr_name(enum oferr);
const char *oferr_desc(enum oferr);

#endif
