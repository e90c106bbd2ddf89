/* oferr.c: lookups into ctrl/oferr.def. */
#include "ctrl/oferr.h"

static const struct {
    uint16_t type, code;
    const char *name, *desc;
} rows[OFERR__COUNT] = {
    [OFERR_NONE] = {0xffff, 0xffff, "NONE", "no error"},
#define OFERR(ID, TYPE, CODE, DESC) [OFERR_##ID] = {TYPE, CODE, #ID, DESC},
#include "ctrl/oferr.def"
#undef OFERR
};

static unsigned int
row(enum oferr e)
{
    return (unsigned int) e < OFERR__COUNT ? (unsigned int) e : 0;
}

uint16_t
oferr_type(enum oferr e)
{
    return rows[row(e)].type;
}

uint16_t
oferr_code(enum oferr e)
{
    return rows[row(e)].code;
}

const char *
oferr_name(enum oferr e)
{
    return rows[row(e)].name;
}

const char *
oferr_desc(enum oferr e)
{
    return rows[row(e)].desc;
}
