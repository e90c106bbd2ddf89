/* vswitch_store.c: see vswitch_store.h. */
#include "db/vswitch_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db/lease_keeper.h"
#include "core/vlog.h"
#include "ctrl/recon_tenant_ctl.h"
#include "ctrl/reconciler.h"
#include "db/tenant_ctl.h"

struct vswitch_store {
    struct db_conn *db;
    struct vswitch_agent_store store;
    struct vswitch_agent *agent;
    struct reconciler *recon;
    struct lease_keeper *keeper;
    struct recon_tenant_ctl hook;
};

/* The reconciler's loop thread: a frame of a VM on a controlled switch. */
static void
store_vm_frame(void *aux, const char *vm_id, const uint8_t *frame, size_t len)
{
    struct vswitch_store *v = aux;
    vswitch_agent_vm_frame(v->agent, vm_id, frame, len);
}

/* The reconciler's loop thread: a frame from a switch's translated flows. */
static void
store_vswitch_frame(void *aux, const char *vswitch_id, uint32_t vport, uint8_t vtable,
                    bool punt, const uint8_t *frame, size_t len)
{
    struct vswitch_store *v = aux;
    vswitch_agent_vswitch_frame(v->agent, vswitch_id, vport, vtable, punt, frame, len);
}

static int
store_flow_stats(void *aux, const char *vswitch_id, struct recon_vflow_stats **out,
                 size_t *n)
{
    struct vswitch_store *v = aux;
    return reconciler_vswitch_stats(v->recon, vswitch_id, out, n);
}

static void
store_passes(void *aux, uint64_t *started, uint64_t *ended)
{
    struct vswitch_store *v = aux;
    reconciler_passes(v->recon, started, ended);
}

static void
store_kick(void *aux)
{
    struct vswitch_store *v = aux;
    reconciler_kick(v->recon);
}

static int
store_deliver(void *aux, const char *vm_id, const uint8_t *frame, size_t len)
{
    struct vswitch_store *v = aux;
    return reconciler_deliver_to_vm(v->recon, vm_id, frame, len);
}

static int
qs_errno(enum db_qs qs)
{
    return qs < 0 ? EIO : 0;
}

static int
store_connected(void *aux, const char *vswitch_id, bool connected)
{
    struct vswitch_store *v = aux;
    return qs_errno(tenant_ctl_set_connected(v->db, vswitch_id, connected));
}

static int
store_port_counters(void *aux, const char *vswitch_id,
                    struct vswitch_agent_port_counters **out, size_t *n)
{
    struct vswitch_store *v = aux;
    struct tenant_ctl_port_counters *rows;
    *out = NULL;
    *n = 0;
    if (tenant_ctl_port_counters(v->db, vswitch_id, &rows, n) < 0) {
        return EIO;
    }
    if (*n && !(*out = calloc(*n, sizeof **out))) {
        free(rows);
        *n = 0;
        return ENOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        (*out)[i] = (struct vswitch_agent_port_counters) {
            rows[i].port_no, rows[i].rx_packets, rows[i].rx_bytes, rows[i].tx_packets,
            rows[i].tx_bytes, rows[i].tx_dropped,
        };
    }
    free(rows);
    return 0;
}

static int
store_to_platform(void *aux, const char *vswitch_id, const uint8_t *frame, size_t len,
                  uint8_t *reply, size_t *reply_len)
{
    struct vswitch_store *v = aux;
    return reconciler_vswitch_to_platform(v->recon, vswitch_id, frame, len, reply,
                                          reply_len);
}

static bool
store_serves(void *aux, const char *cloud_id)
{
    struct vswitch_store *v = aux;
    return cloud_id[0] && lease_keeper_owns(v->keeper, cloud_id, NULL);
}

static int
store_view(void *aux, char **json)
{
    struct vswitch_store *v = aux;
    return qs_errno(tenant_ctl_view(v->db, json));
}

static int
store_flow_put(void *aux, const char *vswitch_id, const struct vswitch_agent_flow *f,
               bool reset_counts, long long *id)
{
    struct vswitch_store *v = aux;
    struct tenant_ctl_flow row = {
        .table_id = f->table_id, .priority = f->priority, .flags = f->flags,
        .idle_timeout = f->idle_timeout, .hard_timeout = f->hard_timeout,
        .cookie = f->cookie, .match = f->match, .match_len = f->match_len,
        .insts = f->insts, .insts_len = f->insts_len,
    };
    enum db_qs qs = tenant_ctl_flow_put(v->db, vswitch_id, &row, reset_counts, id);
    return qs == DB_QS_ONE ? 0 : EIO;
}

static int
store_flow_delete(void *aux, const char *ids_json)
{
    struct vswitch_store *v = aux;
    return qs_errno(tenant_ctl_flow_delete(v->db, ids_json));
}

static int
store_flow_list(void *aux, const char *vswitch_id, struct vswitch_agent_flow **out,
                size_t *n)
{
    struct vswitch_store *v = aux;
    struct tenant_ctl_flow *rows;
    *out = NULL;
    *n = 0;
    enum db_qs qs = tenant_ctl_flow_list(v->db, vswitch_id, &rows, n);
    if (qs < 0) {
        return EIO;
    }
    struct vswitch_agent_flow *f = *n ? calloc(*n, sizeof *f) : NULL;
    if (*n && !f) {
        tenant_ctl_flows_free(rows, *n);
        *n = 0;
        return ENOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        f[i] = (struct vswitch_agent_flow) {
            .id = rows[i].id, .table_id = rows[i].table_id, .priority = rows[i].priority,
            .flags = rows[i].flags, .idle_timeout = rows[i].idle_timeout,
            .hard_timeout = rows[i].hard_timeout, .cookie = rows[i].cookie,
            .match = rows[i].match, .match_len = rows[i].match_len,
            .insts = rows[i].insts, .insts_len = rows[i].insts_len,
        };
        rows[i].match = rows[i].insts = NULL;   /* moved */
    }
    tenant_ctl_flows_free(rows, *n);
    *out = f;
    return 0;
}

struct vswitch_store *
vswitch_store_start(const char *conninfo, struct reconciler *recon,
                    struct lease_keeper *keeper)
{
    struct vswitch_store *v = calloc(1, sizeof *v);
    if (!v || !(v->db = db_conn_create(conninfo))) {
        vlog(VLOG_ERR, "vswitch", "the tenant-controller agent has no database "
             "connection");
        free(v);
        return NULL;
    }
    v->store = (struct vswitch_agent_store) {
        .view = store_view, .flow_put = store_flow_put,
        .flow_delete = store_flow_delete, .flow_list = store_flow_list,
        .deliver = recon ? store_deliver : NULL,
        .flow_stats = recon ? store_flow_stats : NULL,
        .passes = recon ? store_passes : NULL, .kick = recon ? store_kick : NULL,
        .connected = store_connected, .serves = keeper ? store_serves : NULL,
        .port_counters = store_port_counters,
        .to_platform = recon ? store_to_platform : NULL,
        .aux = v,
    };
    v->recon = recon;
    v->keeper = keeper;
    struct vswitch_agent_options o = {.store = &v->store};
    if (!(v->agent = vswitch_agent_start(&o))) {
        vlog(VLOG_ERR, "vswitch", "the tenant-controller agent did not start");
        db_conn_destroy(v->db);
        free(v);
        return NULL;
    }
    if (recon) {
        v->hook = (struct recon_tenant_ctl) {store_vm_frame, store_vswitch_frame, v};
        reconciler_attach_tenant_ctl(recon, &v->hook);
    }
    return v;
}

void
vswitch_store_stop(struct vswitch_store *v)
{
    if (v) {
        if (v->recon) {
            reconciler_attach_tenant_ctl(v->recon, NULL);
        }
        vswitch_agent_stop(v->agent);
        db_conn_destroy(v->db);
        free(v);
    }
}

const struct vswitch_agent *
vswitch_store_agent(const struct vswitch_store *v)
{
    return v ? v->agent : NULL;
}
