/* ctlset.c: see ctlset.h. */
#include "core/ctlset.h"

#include <stdlib.h>
#include <string.h>

struct ctlset *
ctlset_create(void)
{
    struct ctlset *s = calloc(1, sizeof *s);
    if (s) {
        s->refs = 1;
    }
    return s;
}

struct ctlset *
ctlset_ref(struct ctlset *s)
{
    if (s) {
        s->refs++;
    }
    return s;
}

void
ctlset_unref(struct ctlset *s)
{
    if (!s || --s->refs) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        struct ctl_switch *sw = &s->sw[i];
        for (size_t k = 0; k < sw->n_flows; k++) {
            free(sw->flows[k].match);
            free(sw->flows[k].insts);
        }
        free(sw->flows);
        free(sw->ports);
    }
    free(s->sw);
    free(s);
}

static int
cmp_switch(const void *a, const void *b)
{
    return strcmp(((const struct ctl_switch *) a)->id, ((const struct ctl_switch *) b)->id);
}

static int
cmp_port(const void *a, const void *b)
{
    return strcmp(((const struct ctl_port *) a)->object_id,
                  ((const struct ctl_port *) b)->object_id);
}

const struct ctl_switch *
ctlset_switch(const struct ctlset *s, const char *id)
{
    if (!s || !s->n) {
        return NULL;
    }
    struct ctl_switch key;
    memset(&key, 0, sizeof key);
    strncpy(key.id, id, sizeof key.id - 1);
    return bsearch(&key, s->sw, s->n, sizeof *s->sw, cmp_switch);
}

uint32_t
ctlset_port(const struct ctl_switch *sw, const char *object_id)
{
    if (!sw || !sw->n_ports) {
        return 0;
    }
    struct ctl_port key;
    memset(&key, 0, sizeof key);
    strncpy(key.object_id, object_id, sizeof key.object_id - 1);
    const struct ctl_port *p = bsearch(&key, sw->ports, sw->n_ports, sizeof *sw->ports,
                                       cmp_port);
    return p ? p->port_no : 0;
}

bool
ctlset_finish(struct ctlset *s)
{
    if (s->n) {
        qsort(s->sw, s->n, sizeof *s->sw, cmp_switch);
    }
    bool ok = true;
    for (size_t i = 0; i < s->n; i++) {
        struct ctl_switch *sw = &s->sw[i];
        ok &= !i || strcmp(s->sw[i - 1].id, sw->id);
        if (sw->n_ports) {
            qsort(sw->ports, sw->n_ports, sizeof *sw->ports, cmp_port);
        }
        for (size_t k = 1; k < sw->n_ports; k++) {
            ok &= strcmp(sw->ports[k - 1].object_id, sw->ports[k].object_id) != 0;
        }
    }
    return ok;
}
