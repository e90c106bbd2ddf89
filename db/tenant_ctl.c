/* tenant_ctl.c: the statements of tenant_ctl.h. */
#include "db/tenant_ctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctlset.h"
#include "db/conn_internal.h"

/* Ports whose VM left the switch (deleted, or moved to another switch) or
 * whose link no longer ends there lose their numbers. */
static const struct db_stmt stmt_stale = {
    "tenant_ctl_stale",
    "DELETE FROM vport p WHERE"
    " (p.vm_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vm"
    "   WHERE vm.id = p.vm_id AND vm.switch_id = p.vswitch_id))"
    " OR (p.vlink_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vlink l"
    "   WHERE l.id = p.vlink_id AND p.vswitch_id IN (l.a_id, l.b_id)))", 0,
};

/* The VMs and link ends of controlled switches that have no number yet:
 * rows of (switch id, vm id or NULL, link id or NULL). */
static const struct db_stmt stmt_missing = {
    "tenant_ctl_missing",
    "SELECT s.id, vm.id, NULL FROM vswitch s JOIN vm ON vm.switch_id = s.id"
    " WHERE s.controller IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vport p"
    "  WHERE p.vswitch_id = s.id AND p.vm_id = vm.id)"
    " UNION ALL"
    " SELECT s.id, NULL, l.id FROM vswitch s JOIN vlink l ON s.id IN (l.a_id, l.b_id)"
    " WHERE s.controller IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vport p"
    "  WHERE p.vswitch_id = s.id AND p.vlink_id = l.id)"
    " ORDER BY 1, 2, 3", 0,
};

/* The lowest free number of switch $1 (1 when free, else one past a taken
 * number whose successor is free). */
static const struct db_stmt stmt_allocate = {
    "tenant_ctl_allocate",
    "INSERT INTO vport (vswitch_id, port_no, vm_id, vlink_id)"
    " SELECT $1::uuid, CASE WHEN NOT EXISTS (SELECT 1 FROM vport"
    "   WHERE vswitch_id = $1::uuid AND port_no = 1) THEN 1"
    "  ELSE (SELECT min(p.port_no + 1) FROM vport p WHERE p.vswitch_id = $1::uuid"
    "   AND NOT EXISTS (SELECT 1 FROM vport q WHERE q.vswitch_id = $1::uuid"
    "                   AND q.port_no = p.port_no + 1)) END,"
    " $2::uuid, $3::uuid", 3,
};

static const struct db_stmt stmt_view = {
    "tenant_ctl_view",
    "SELECT coalesce(json_agg(json_build_object("
    "  'id', s.id, 'name', s.name, 'network_id', s.network_id,"
    "  'controller', s.controller, 'fail_mode', s.fail_mode, 'tag', t.tag,"
    "  'seq', s.seq,"
    "  'home_cloud', coalesce((SELECT h.cloud_id FROM vm JOIN host h ON h.id = vm.host_id"
    "    WHERE vm.switch_id = s.id ORDER BY vm.id LIMIT 1),"
    "   (SELECT c.id FROM cloud c ORDER BY c.id LIMIT 1)),"
    "  'ports', (SELECT coalesce(json_agg(json_build_object("
    "    'port_no', p.port_no, 'kind', CASE WHEN p.vm_id IS NULL THEN 'link' ELSE 'vm' END,"
    "    'object_id', coalesce(p.vm_id, p.vlink_id),"
    "    'name', coalesce(vm.name, (SELECT o.name FROM vswitch o"
    "             WHERE o.id = CASE WHEN l.a_id = s.id THEN l.b_id ELSE l.a_id END)),"
    "    'mac', vm.mac, 'up', coalesce(vm.power = 'running', true))"
    "    ORDER BY p.port_no), '[]')"
    "   FROM vport p LEFT JOIN vm ON vm.id = p.vm_id"
    "   LEFT JOIN vlink l ON l.id = p.vlink_id WHERE p.vswitch_id = s.id))"
    "  ORDER BY s.id), '[]')::text"
    " FROM vswitch s JOIN network n ON n.id = s.network_id"
    " JOIN tenant t ON t.id = n.tenant_id WHERE s.controller IS NOT NULL", 0,
};

struct view_ctx {
    char *json;
};

static enum db_qs
view_txn(struct db_conn *c, void *aux)
{
    struct view_ctx *v = aux;
    PGresult *res;
    enum db_qs qs = db_exec(c, &stmt_stale, NULL, NULL);
    if (qs < 0) {
        return qs;
    }
    if ((qs = db_exec(c, &stmt_missing, NULL, &res)) < 0) {
        return qs;
    }
    for (int i = 0; i < PQntuples(res) && qs >= 0; i++) {
        const char *p[3];
        for (int k = 0; k < 3; k++) {
            p[k] = PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k);
        }
        qs = db_exec(c, &stmt_allocate, p, NULL);
    }
    PQclear(res);
    if (qs < 0) {
        return qs;
    }
    if ((qs = db_exec(c, &stmt_view, NULL, &res)) == DB_QS_ONE) {
        free(v->json);
        if (!(v->json = strdup(PQgetvalue(res, 0, 0)))) {
            qs = DB_QS_HARD;
        }
    }
    PQclear(res);
    return qs;
}

enum db_qs
tenant_ctl_view(struct db_conn *c, char **json)
{
    struct view_ctx v = {NULL};
    enum db_qs qs = db_txn_run(c, false, view_txn, &v);
    if (qs != DB_QS_ONE) {
        free(v.json);
        v.json = NULL;
    }
    *json = v.json;
    return qs;
}

/* --- virtual flows --- */

static const struct db_stmt stmt_flow_put = {
    "tenant_ctl_flow_put",
    "INSERT INTO vflow AS f (vswitch_id, table_id, priority, match, instructions,"
    "  cookie, flags, idle_timeout, hard_timeout)"
    " VALUES ($1::uuid, $2::smallint, $3::integer, decode($4, 'hex'),"
    "  decode($5, 'hex'), $6::bigint, $7::integer, $8::integer, $9::integer)"
    " ON CONFLICT (vswitch_id, table_id, priority, match) DO UPDATE SET"
    "  instructions = excluded.instructions, cookie = excluded.cookie,"
    "  flags = excluded.flags, idle_timeout = excluded.idle_timeout,"
    "  hard_timeout = excluded.hard_timeout, installed_at = now(),"
    "  last_hit_at = now(),"
    "  packet_offset = CASE WHEN $10::boolean THEN 0 ELSE f.packet_offset END,"
    "  byte_offset = CASE WHEN $10::boolean THEN 0 ELSE f.byte_offset END"
    " RETURNING f.id", 10,
};

static const struct db_stmt stmt_flow_delete = {
    "tenant_ctl_flow_delete",
    "DELETE FROM vflow WHERE id IN"
    " (SELECT jsonb_array_elements_text($1::jsonb)::bigint)", 1,
};

static const struct db_stmt stmt_flow_list = {
    "tenant_ctl_flow_list",
    "SELECT id, table_id, priority, flags, idle_timeout, hard_timeout, cookie,"
    " encode(match, 'hex'), encode(instructions, 'hex'), packet_offset, byte_offset"
    " FROM vflow WHERE vswitch_id = $1::uuid ORDER BY id", 1,
};

/* Lowercase hex of n bytes (malloc'ed), or NULL. */
static char *
to_hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s) {
        for (size_t i = 0; i < n; i++) {
            snprintf(s + 2 * i, 3, "%02x", p[i]);
        }
        s[2 * n] = '\0';
    }
    return s;
}

static int
hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The bytes of lowercase hex text 's' (malloc'ed, at least one byte so an
 * empty value is not NULL), or NULL. */
static uint8_t *
from_hex(const char *s, size_t *n)
{
    size_t len = strlen(s) / 2;
    uint8_t *p = malloc(len ? len : 1);
    if (!p) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(p);
            return NULL;
        }
        p[i] = (uint8_t) (hi << 4 | lo);
    }
    *n = len;
    return p;
}

enum db_qs
tenant_ctl_flow_put(struct db_conn *c, const char *vswitch_id,
                    const struct tenant_ctl_flow *f, int reset_counts,
                    long long *id_out)
{
    char table[8], prio[8], cookie[24], flags[8], idle[8], hard[8];
    snprintf(table, sizeof table, "%u", f->table_id);
    snprintf(prio, sizeof prio, "%u", f->priority);
    snprintf(cookie, sizeof cookie, "%" PRId64, (int64_t) f->cookie);
    snprintf(flags, sizeof flags, "%u", f->flags);
    snprintf(idle, sizeof idle, "%u", f->idle_timeout);
    snprintf(hard, sizeof hard, "%u", f->hard_timeout);
    char *m = to_hex(f->match, f->match_len), *in = to_hex(f->insts, f->insts_len);
    enum db_qs qs = DB_QS_HARD;
    if (m && in) {
        const char *p[] = {vswitch_id, table, prio, m, in, cookie, flags, idle, hard,
                           reset_counts ? "true" : "false"};
        PGresult *res;
        qs = db_exec(c, &stmt_flow_put, p, &res);
        if (qs == DB_QS_ONE && id_out) {
            *id_out = atoll(PQgetvalue(res, 0, 0));
        }
        if (qs >= 0) {
            PQclear(res);
        }
    }
    free(m);
    free(in);
    return qs;
}

enum db_qs
tenant_ctl_flow_delete(struct db_conn *c, const char *ids_json)
{
    const char *p[] = {ids_json};
    return db_exec(c, &stmt_flow_delete, p, NULL);
}

void
tenant_ctl_flows_free(struct tenant_ctl_flow *flows, size_t n)
{
    for (size_t i = 0; flows && i < n; i++) {
        free(flows[i].match);
        free(flows[i].insts);
    }
    free(flows);
}

enum db_qs
tenant_ctl_flow_list(struct db_conn *c, const char *vswitch_id,
                     struct tenant_ctl_flow **flows, size_t *n)
{
    const char *p[] = {vswitch_id};
    PGresult *res;
    *flows = NULL;
    *n = 0;
    enum db_qs qs = db_exec(c, &stmt_flow_list, p, &res);
    if (qs < 0) {
        return qs;
    }
    size_t rows = (size_t) PQntuples(res);
    struct tenant_ctl_flow *f = rows ? calloc(rows, sizeof *f) : NULL;
    if (rows && !f) {
        PQclear(res);
        return DB_QS_HARD;
    }
    for (size_t i = 0; i < rows; i++) {
        int r = (int) i;
        f[i].id = atoll(PQgetvalue(res, r, 0));
        f[i].table_id = (uint8_t) atoi(PQgetvalue(res, r, 1));
        f[i].priority = (uint16_t) atoi(PQgetvalue(res, r, 2));
        f[i].flags = (uint16_t) atoi(PQgetvalue(res, r, 3));
        f[i].idle_timeout = (uint16_t) atoi(PQgetvalue(res, r, 4));
        f[i].hard_timeout = (uint16_t) atoi(PQgetvalue(res, r, 5));
        f[i].cookie = (uint64_t) strtoll(PQgetvalue(res, r, 6), NULL, 10);
        f[i].match = from_hex(PQgetvalue(res, r, 7), &f[i].match_len);
        f[i].insts = from_hex(PQgetvalue(res, r, 8), &f[i].insts_len);
        f[i].packet_offset = (uint64_t) atoll(PQgetvalue(res, r, 9));
        f[i].byte_offset = (uint64_t) atoll(PQgetvalue(res, r, 10));
        if (!f[i].match || !f[i].insts) {
            tenant_ctl_flows_free(f, rows);
            PQclear(res);
            return DB_QS_HARD;
        }
    }
    PQclear(res);
    *flows = f;
    *n = rows;
    return rows ? DB_QS_ONE : DB_QS_NONE;
}

/* --- the set the datapath carries --- */

static const struct db_stmt stmt_set_switches = {
    "tenant_ctl_set_switches",
    "SELECT id FROM vswitch WHERE controller IS NOT NULL ORDER BY id", 0,
};

static const struct db_stmt stmt_set_ports = {
    "tenant_ctl_set_ports",
    "SELECT p.vswitch_id, coalesce(p.vm_id, p.vlink_id), p.port_no, p.vlink_id IS NOT NULL"
    " FROM vport p JOIN vswitch s ON s.id = p.vswitch_id"
    " WHERE s.controller IS NOT NULL ORDER BY 1", 0,
};

static const struct db_stmt stmt_set_flows = {
    "tenant_ctl_set_flows",
    "SELECT f.vswitch_id, f.id, f.table_id, f.priority, encode(f.match, 'hex'),"
    " encode(f.instructions, 'hex')"
    " FROM vflow f JOIN vswitch s ON s.id = f.vswitch_id"
    " WHERE s.controller IS NOT NULL ORDER BY 1, 2", 0,
};

/* The switch of row 'row' (column 0) in 's', NULL if the set lacks it. */
static struct ctl_switch *
set_switch(struct ctlset *s, const PGresult *r, int row)
{
    return (struct ctl_switch *) ctlset_switch(s, PQgetvalue(r, row, 0));
}

/* Counts the rows of each switch of 'r' into their n_ports or n_flows
 * (by 'flows') and allocates the arrays.  False when memory runs out. */
static bool
set_alloc(struct ctlset *s, const PGresult *r, bool flows)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct ctl_switch *sw = set_switch(s, r, i);
        if (sw) {
            (*(flows ? &sw->n_flows : &sw->n_ports))++;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        struct ctl_switch *sw = &s->sw[i];
        size_t n = flows ? sw->n_flows : sw->n_ports;
        void *v = n ? calloc(n, flows ? sizeof *sw->flows : sizeof *sw->ports) : NULL;
        if (n && !v) {
            return false;
        }
        if (flows) {
            sw->flows = v;
            sw->n_flows = 0;
        } else {
            sw->ports = v;
            sw->n_ports = 0;
        }
    }
    return true;
}

static enum db_qs
load_set(struct db_conn *c, struct ctlset *s)
{
    PGresult *r;
    enum db_qs qs = db_exec(c, &stmt_set_switches, NULL, &r);
    if (qs < 0) {
        return qs;
    }
    s->n = (size_t) PQntuples(r);
    s->sw = s->n ? calloc(s->n, sizeof *s->sw) : NULL;
    for (size_t i = 0; s->sw && i < s->n; i++) {
        snprintf(s->sw[i].id, sizeof s->sw[i].id, "%s", PQgetvalue(r, (int) i, 0));
    }
    PQclear(r);
    if (s->n && !s->sw) {
        s->n = 0;
        return DB_QS_HARD;
    }
    ctlset_finish(s);

    if ((qs = db_exec(c, &stmt_set_ports, NULL, &r)) < 0) {
        return qs;
    }
    bool ok = set_alloc(s, r, false);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        struct ctl_switch *sw = set_switch(s, r, i);
        if (sw) {
            struct ctl_port *p = &sw->ports[sw->n_ports++];
            snprintf(p->object_id, sizeof p->object_id, "%s", PQgetvalue(r, i, 1));
            p->port_no = (uint32_t) strtoul(PQgetvalue(r, i, 2), NULL, 10);
            p->link = PQgetvalue(r, i, 3)[0] == 't';
        }
    }
    PQclear(r);
    if (!ok || !ctlset_finish(s)) {
        return DB_QS_HARD;
    }

    if ((qs = db_exec(c, &stmt_set_flows, NULL, &r)) < 0) {
        return qs;
    }
    ok = set_alloc(s, r, true);
    for (int i = 0; ok && i < PQntuples(r); i++) {
        struct ctl_switch *sw = set_switch(s, r, i);
        if (!sw) {
            continue;
        }
        struct ctl_flow *f = &sw->flows[sw->n_flows];
        f->id = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        f->table = (uint8_t) atoi(PQgetvalue(r, i, 2));
        f->priority = (uint16_t) atoi(PQgetvalue(r, i, 3));
        f->match = from_hex(PQgetvalue(r, i, 4), &f->match_len);
        f->insts = from_hex(PQgetvalue(r, i, 5), &f->insts_len);
        if (!f->match || !f->insts) {
            free(f->match);
            free(f->insts);
            ok = false;
        } else {
            sw->n_flows++;
        }
    }
    PQclear(r);
    return ok ? DB_QS_ONE : DB_QS_HARD;
}

enum db_qs
tenant_ctl_load_set(struct db_conn *c, struct ctlset **out)
{
    struct ctlset *s = ctlset_create();
    if (!s) {
        return DB_QS_HARD;
    }
    enum db_qs qs = load_set(c, s);
    if (qs < 0) {
        ctlset_unref(s);
        return qs;
    }
    *out = s;
    return DB_QS_ONE;
}

static const struct db_stmt stmt_set_connected = {
    "tenant_ctl_set_connected",
    "INSERT INTO vswitch_controller AS c (vswitch_id, connected)"
    " SELECT $1::uuid, $2::boolean WHERE EXISTS (SELECT 1 FROM vswitch WHERE id = $1::uuid)"
    " ON CONFLICT (vswitch_id) DO UPDATE SET connected = excluded.connected, since = now()"
    " WHERE c.connected IS DISTINCT FROM excluded.connected", 2,
};

enum db_qs
tenant_ctl_set_connected(struct db_conn *c, const char *vswitch_id, bool connected)
{
    const char *p[] = {vswitch_id, connected ? "true" : "false"};
    enum db_qs qs = db_exec(c, &stmt_set_connected, p, NULL);
    return qs < 0 ? qs : DB_QS_ONE;
}

static const struct db_stmt stmt_port_counters = {
    "tenant_ctl_port_counters",
    "SELECT p.port_no, st.tx_packets, st.tx_bytes, st.rx_packets, st.rx_bytes,"
    " st.rx_dropped FROM vport p JOIN vm_stats st ON st.vm_id = p.vm_id"
    " WHERE p.vswitch_id = $1::uuid ORDER BY p.port_no", 1,
};

enum db_qs
tenant_ctl_port_counters(struct db_conn *c, const char *vswitch_id,
                         struct tenant_ctl_port_counters **ports, size_t *n)
{
    *ports = NULL;
    *n = 0;
    PGresult *r;
    const char *p[] = {vswitch_id};
    enum db_qs qs = db_exec(c, &stmt_port_counters, p, &r);
    if (qs < 0) {
        return qs;
    }
    size_t rows = (size_t) PQntuples(r);
    struct tenant_ctl_port_counters *v = rows ? calloc(rows, sizeof *v) : NULL;
    if (rows && !v) {
        PQclear(r);
        return DB_QS_HARD;
    }
    for (size_t i = 0; i < rows; i++) {
        int row = (int) i;
        v[i] = (struct tenant_ctl_port_counters) {
            .port_no = (uint32_t) strtoul(PQgetvalue(r, row, 0), NULL, 10),
            .rx_packets = strtoull(PQgetvalue(r, row, 1), NULL, 10),
            .rx_bytes = strtoull(PQgetvalue(r, row, 2), NULL, 10),
            .tx_packets = strtoull(PQgetvalue(r, row, 3), NULL, 10),
            .tx_bytes = strtoull(PQgetvalue(r, row, 4), NULL, 10),
            .tx_dropped = strtoull(PQgetvalue(r, row, 5), NULL, 10),
        };
    }
    PQclear(r);
    *ports = v;
    *n = rows;
    return DB_QS_ONE;
}
