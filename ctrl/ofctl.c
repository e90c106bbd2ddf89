/* ofctl.c: the controller (see ofctl.h).
 *
 * Ownership: the loop thread owns 'conns' and 'listeners' and everything in
 * them; other threads only ever post work (struct job, heap, consumed by
 * the loop thread) or read 'up' (the dpids of switches that are up, under
 * 'mutex', signalled on 'cond').  Blocking calls wait on a struct waiter
 * shared by the caller and the completion callback through a reference
 * count, so a caller that gives up (timeout) never leaves the callback a
 * dangling pointer.
 *
 * Shutdown: ofctl_destroy() posts a last job that destroys every
 * connection and listener on the loop thread and stops the loop; FIFO
 * order makes every earlier job run (and complete) before it. */
#include "ctrl/ofctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/vlog.h"
#include "ctrl/loop.h"
#include "ctrl/ofconn.h"
#include "ctrl/stream.h"

#define MOD "ofctl"

struct ofctl {
    struct loop *loop;
    pthread_t thread;
    struct ofctl_callbacks cbs;
    void *aux;
    struct ofconn_config cfg;

    /* Loop thread only. */
    struct ofconn **conns;
    size_t n_conns, cap_conns;
    struct role_entry *roles;       /* ofctl_set_role(), by dpid */
    size_t n_roles;
    struct listener **listeners;
    size_t n_listeners;

    /* Any thread, under 'mutex'. */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    uint64_t *up;
    size_t n_up, cap_up;
};

enum job_kind { JOB_CONNECT, JOB_DISCONNECT, JOB_LISTEN, JOB_SUBMIT, JOB_FLOWS,
                JOB_SEND, JOB_ROLE, JOB_SHUTDOWN, JOB_METERS };

/* The role a switch's connections ask for (OFPCR_ROLE_*). */
struct role_entry {
    uint64_t dpid;
    uint32_t role;
    uint64_t generation, until_ms;
};

/* A listening socket: plain ("tcp:") or TLS ("ssl:"). */
struct listener {
    struct ofctl *ctl;
    int fd;
    bool tls;
};

/* One posted request; owned by the loop thread once posted. */
struct job {
    struct ofctl *ctl;
    enum job_kind kind;
    uint64_t dpid;
    char *target;                   /* CONNECT, DISCONNECT */
    int fd;                         /* LISTEN */
    bool tls;                       /* LISTEN */
    struct buf msgs;                /* SUBMIT, SEND: encoded messages */
    size_t n;
    uint64_t cookie, cookie_mask;   /* FLOWS */
    struct role_entry role;         /* ROLE */
    ofctl_done_fn *done;
    ofctl_flows_fn *flows_done;
    ofctl_meters_fn *meters_done;
    void *aux;
};

static const struct ofconn_handler conn_handler;
static void report_down(struct ofctl *, uint64_t dpid);

/* --- loop thread --- */

static struct ofconn *
find_dpid(struct ofctl *ctl, uint64_t dpid)
{
    for (size_t i = 0; i < ctl->n_conns; i++) {
        if (ofconn_state(ctl->conns[i]) == OFCONN_ACTIVE
            && ofconn_dpid(ctl->conns[i]) == dpid) {
            return ctl->conns[i];
        }
    }
    return NULL;
}

static int
add_conn(struct ofctl *ctl, struct ofconn *c)
{
    if (ctl->n_conns == ctl->cap_conns) {
        size_t cap = ctl->cap_conns ? 2 * ctl->cap_conns : 8;
        struct ofconn **g = realloc(ctl->conns, cap * sizeof *g);
        if (!g) {
            return ENOMEM;
        }
        ctl->conns = g;
        ctl->cap_conns = cap;
    }
    ctl->conns[ctl->n_conns++] = c;
    return 0;
}

/* Removes 'c' from the table and destroys it, telling the owner if the
 * switch was up. */
static void
drop_conn(struct ofctl *ctl, struct ofconn *c)
{
    for (size_t i = 0; i < ctl->n_conns; i++) {
        if (ctl->conns[i] == c) {
            ctl->conns[i] = ctl->conns[--ctl->n_conns];
            break;
        }
    }
    bool was_up = ofconn_state(c) == OFCONN_ACTIVE;
    uint64_t dpid = ofconn_dpid(c);
    ofconn_destroy(c);
    if (was_up) {
        report_down(ctl, dpid);
    }
}

static void
report_down(struct ofctl *ctl, uint64_t dpid)
{
    pthread_mutex_lock(&ctl->mutex);
    for (size_t i = 0; i < ctl->n_up; i++) {
        if (ctl->up[i] == dpid) {
            memmove(&ctl->up[i], &ctl->up[i + 1], (ctl->n_up - i - 1) * sizeof *ctl->up);
            ctl->n_up--;
            break;
        }
    }
    pthread_mutex_unlock(&ctl->mutex);
    if (ctl->cbs.switch_down) {
        ctl->cbs.switch_down(ctl->aux, dpid);
    }
}

static void
on_up(struct ofconn *c, void *aux)
{
    struct ofctl *ctl = aux;
    const struct ofmsg_features *f = ofconn_features(c);
    pthread_mutex_lock(&ctl->mutex);
    if (ctl->n_up == ctl->cap_up) {
        size_t cap = ctl->cap_up ? 2 * ctl->cap_up : 8;
        uint64_t *g = realloc(ctl->up, cap * sizeof *g);
        if (g) {
            ctl->up = g;
            ctl->cap_up = cap;
        }
    }
    if (ctl->n_up < ctl->cap_up) {
        ctl->up[ctl->n_up++] = f->datapath_id;
    }
    pthread_cond_broadcast(&ctl->cond);
    pthread_mutex_unlock(&ctl->mutex);
    if (ctl->cbs.switch_up) {
        struct ofctl_switch_info info = {
            .dpid = f->datapath_id, .n_tables = f->n_tables,
            .capabilities = f->capabilities, .peer = ofconn_target(c),
        };
        info.ports = ofconn_ports(c, &info.n_ports);
        ctl->cbs.switch_up(ctl->aux, &info);
    }
}

static void
on_down(struct ofconn *c, void *aux)
{
    report_down(aux, ofconn_dpid(c));
}

static void
on_message(struct ofconn *c, const struct ofmsg *m, void *aux)
{
    struct ofctl *ctl = aux;
    uint64_t dpid = ofconn_dpid(c);
    if (m->type == OFPT_PACKET_IN && ctl->cbs.packet_in) {
        ctl->cbs.packet_in(ctl->aux, dpid, &m->u.packet_in);
    } else if (m->type == OFPT_PORT_STATUS && ctl->cbs.port_status) {
        ctl->cbs.port_status(ctl->aux, dpid, &m->u.port_status);
    } else if (m->type == OFPT_FLOW_REMOVED && ctl->cbs.flow_removed) {
        ctl->cbs.flow_removed(ctl->aux, dpid, &m->u.flow_removed);
    }
}

static void
on_closed(struct ofconn *c, void *aux)
{
    drop_conn(aux, c);
}

static const struct role_entry *
find_role(const struct ofctl *ctl, uint64_t dpid)
{
    for (size_t i = 0; i < ctl->n_roles; i++) {
        if (ctl->roles[i].dpid == dpid) {
            return &ctl->roles[i];
        }
    }
    return NULL;
}

/* Gives 'c' the role of its switch (none if unset): once the datapath id
 * is known, so the handshake's end asks for it before switch_up. */
static void
apply_role(struct ofctl *ctl, struct ofconn *c)
{
    const struct role_entry *r = find_role(ctl, ofconn_dpid(c));
    if (r) {
        ofconn_set_role(c, r->role, r->generation, r->until_ms);
    } else {
        ofconn_set_role(c, OFPCR_ROLE_NOCHANGE, 0, 0);
    }
}

/* JOB_ROLE: records the entry and applies it to the switch's connections. */
static void
set_role_now(struct ofctl *ctl, const struct role_entry *e)
{
    size_t i = 0;
    while (i < ctl->n_roles && ctl->roles[i].dpid != e->dpid) {
        i++;
    }
    if (e->role == OFPCR_ROLE_NOCHANGE) {
        if (i < ctl->n_roles) {
            ctl->roles[i] = ctl->roles[--ctl->n_roles];
        }
    } else if (i < ctl->n_roles) {
        ctl->roles[i] = *e;
    } else {
        struct role_entry *g = realloc(ctl->roles, (ctl->n_roles + 1) * sizeof *g);
        if (!g) {
            vlog(VLOG_ERR, MOD, "out of memory for the role of %016llx",
                 (unsigned long long) e->dpid);
            return;
        }
        ctl->roles = g;
        ctl->roles[ctl->n_roles++] = *e;
    }
    for (size_t k = 0; k < ctl->n_conns; k++) {
        enum ofconn_state st = ofconn_state(ctl->conns[k]);
        if (st == OFCONN_ACTIVE && ofconn_dpid(ctl->conns[k]) == e->dpid) {
            apply_role(ctl, ctl->conns[k]);
        }
    }
}

static void
on_fenced(struct ofconn *c, void *aux, int reason, uint64_t generation)
{
    struct ofctl *ctl = aux;
    if (ctl->cbs.fenced) {
        ctl->cbs.fenced(ctl->aux, ofconn_dpid(c), reason, generation);
    }
}

static bool
on_admit(struct ofconn *c, void *aux, char *why, size_t len)
{
    struct ofctl *ctl = aux;
    apply_role(ctl, c);
    if (!ctl->cbs.switch_admit) {
        return true;
    }
    const struct ofmsg_features *f = ofconn_features(c);
    struct ofctl_switch_info info = {
        .dpid = f->datapath_id, .n_tables = f->n_tables,
        .capabilities = f->capabilities, .peer = ofconn_target(c),
        .tls = ofconn_is_tls(c),
    };
    info.peer_names = ofconn_peer_names(c, &info.n_peer_names);
    return ctl->cbs.switch_admit(ctl->aux, &info, why, len);
}

static const struct ofconn_handler conn_handler = {
    .admit = on_admit, .up = on_up, .down = on_down, .message = on_message,
    .closed = on_closed, .fenced = on_fenced,
};

static void
on_accept(struct loop *loop, int fd, uint32_t events, void *aux)
{
    struct listener *li = aux;
    struct ofctl *ctl = li->ctl;
    (void) events;
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int s = accept4(fd, (struct sockaddr *) &peer, &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                vlog(VLOG_WARN, MOD, "accept: %s", strerror(errno));
            }
            return;
        }
        char name[64], ip[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        snprintf(name, sizeof name, "%s:%s:%u", li->tls ? "ssl" : "tcp", ip,
                 (unsigned int) ntohs(peer.sin_port));
        struct stream *st;
        struct ofconn *c;
        int error = stream_accept(s, li->tls, name, &st);
        if (error) {
            vlog(VLOG_WARN, MOD, "%s: %s", name, stream_strerror(error));
            continue;               /* 's' is closed */
        }
        if (ofconn_create_passive(loop, st, &ctl->cfg, &conn_handler, ctl, &c)) {
            continue;               /* 'st' is closed */
        }
        if (add_conn(ctl, c)) {
            ofconn_destroy(c);
        }
    }
}

static void
job_free(struct job *j)
{
    free(j->target);
    buf_uninit(&j->msgs);
    free(j);
}

static void
flows_done_adapter(void *aux, int error, struct offlow_stats *flows, size_t n)
{
    struct job *j = aux;
    j->flows_done(j->aux, error, flows, n);
    job_free(j);
}

static void
meters_done_adapter(void *aux, int error, struct ofmsg_meter_mod *meters, size_t n)
{
    struct job *j = aux;
    j->meters_done(j->aux, error, meters, n);
    job_free(j);
}

static void
run_job(struct loop *loop, void *aux)
{
    struct job *j = aux;
    struct ofctl *ctl = j->ctl;
    struct ofconn *c = NULL;
    switch (j->kind) {
    case JOB_CONNECT:
        if (!ofconn_create_active(loop, j->target, &ctl->cfg, &conn_handler, ctl, &c)
            && add_conn(ctl, c)) {
            ofconn_destroy(c);
        }
        break;
    case JOB_DISCONNECT:
        for (size_t i = 0; i < ctl->n_conns; i++) {
            if (!strcmp(ofconn_target(ctl->conns[i]), j->target)) {
                drop_conn(ctl, ctl->conns[i]);
                break;
            }
        }
        break;
    case JOB_LISTEN: {
        struct listener **g = realloc(ctl->listeners, (ctl->n_listeners + 1) * sizeof *g);
        if (g) {
            ctl->listeners = g;
        }
        struct listener *li = g ? malloc(sizeof *li) : NULL;
        if (li) {
            *li = (struct listener) {ctl, j->fd, j->tls};
        }
        if (!li || loop_add_fd(loop, j->fd, EPOLLIN, on_accept, li)) {
            vlog(VLOG_ERR, MOD, "cannot watch listening socket");
            close(j->fd);
            free(li);
        } else {
            g[ctl->n_listeners++] = li;
        }
        break;
    }
    case JOB_SUBMIT:
        c = find_dpid(ctl, j->dpid);
        if (!c) {
            j->done(j->aux, ENOENT, 0, NULL);
        } else {
            ofconn_submit(c, j->msgs.data, j->msgs.len, j->n, j->done, j->aux);
        }
        break;
    case JOB_FLOWS:
        c = find_dpid(ctl, j->dpid);
        if (!c) {
            j->flows_done(j->aux, ENOENT, NULL, 0);
            break;
        }
        ofconn_dump_flows(c, j->cookie, j->cookie_mask, flows_done_adapter, j);
        return;                     /* 'j' freed by the adapter */
    case JOB_METERS:
        c = find_dpid(ctl, j->dpid);
        if (!c) {
            j->meters_done(j->aux, ENOENT, NULL, 0);
            break;
        }
        ofconn_dump_meters(c, meters_done_adapter, j);
        return;                     /* 'j' freed by the adapter */
    case JOB_SEND: {
        c = find_dpid(ctl, j->dpid);
        int error = c ? ofconn_send_raw(c, j->msgs.data, j->msgs.len) : ENOENT;
        if (error) {
            vlog(VLOG_WARN, MOD, "send to %016llx: %s", (unsigned long long) j->dpid,
                 strerror(error));
        }
        break;
    }
    case JOB_ROLE:
        set_role_now(ctl, &j->role);
        break;
    case JOB_SHUTDOWN:
        while (ctl->n_conns) {
            drop_conn(ctl, ctl->conns[ctl->n_conns - 1]);
        }
        for (size_t i = 0; i < ctl->n_listeners; i++) {
            loop_del_fd(loop, ctl->listeners[i]->fd);
            close(ctl->listeners[i]->fd);
            free(ctl->listeners[i]);
        }
        ctl->n_listeners = 0;
        loop_stop(loop);
        break;
    }
    job_free(j);
}

static struct job *
job_new(struct ofctl *ctl, enum job_kind kind)
{
    struct job *j = calloc(1, sizeof *j);
    if (j) {
        j->ctl = ctl;
        j->kind = kind;
        j->fd = -1;
        buf_init(&j->msgs);
    }
    return j;
}

/* Posts 'j' (always consumed).  Returns 0 or ENOMEM.  A submit, send or
 * flow read made on the loop thread itself (a callback answering a
 * packet-in, say) runs at once: nothing that thread posted can be waiting
 * in the queue, so call order is kept, and the hot path skips the queue
 * and the wakeup.  Jobs that create or destroy connections are always
 * queued, so a callback never frees the connection it is called from. */
static int
job_post(struct job *j)
{
    if ((j->kind == JOB_SUBMIT || j->kind == JOB_SEND || j->kind == JOB_FLOWS)
        && pthread_equal(pthread_self(), j->ctl->thread)) {
        run_job(j->ctl->loop, j);
        return 0;
    }
    if (loop_post(j->ctl->loop, run_job, j)) {
        job_free(j);
        return ENOMEM;
    }
    return 0;
}

/* --- public API --- */

static void *
thread_main(void *aux)
{
    loop_run(aux);
    return NULL;
}

struct ofctl *
ofctl_create(const struct ofctl_callbacks *cbs, void *aux,
             const struct ofctl_options *opt)
{
    struct ofctl *ctl = calloc(1, sizeof *ctl);
    if (!ctl) {
        return NULL;
    }
    if (cbs) {
        ctl->cbs = *cbs;
    }
    ctl->aux = aux;
    if (opt) {
        ctl->cfg = (struct ofconn_config){opt->probe_ms, opt->backoff_min_ms,
                                          opt->backoff_max_ms, opt->request_timeout_ms,
                                          opt->fenced};
    }
    pthread_mutex_init(&ctl->mutex, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ctl->cond, &ca);
    pthread_condattr_destroy(&ca);
    ctl->loop = loop_create();
    if (!ctl->loop || pthread_create(&ctl->thread, NULL, thread_main, ctl->loop)) {
        loop_destroy(ctl->loop);
        pthread_cond_destroy(&ctl->cond);
        pthread_mutex_destroy(&ctl->mutex);
        free(ctl);
        return NULL;
    }
    pthread_setname_np(ctl->thread, "openflow");  /* its name in top -H and perf */
    return ctl;
}

void
ofctl_destroy(struct ofctl *ctl)
{
    if (!ctl) {
        return;
    }
    struct job *j = job_new(ctl, JOB_SHUTDOWN);
    if (!j || job_post(j)) {
        loop_stop(ctl->loop);       /* last resort: leaks the connections */
    }
    pthread_join(ctl->thread, NULL);
    loop_destroy(ctl->loop);
    free(ctl->conns);
    free(ctl->roles);
    free(ctl->listeners);
    free(ctl->up);
    pthread_cond_destroy(&ctl->cond);
    pthread_mutex_destroy(&ctl->mutex);
    free(ctl);
}

int
ofctl_listen(struct ofctl *ctl, const char *target, unsigned int *port_out)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    bool tls;
    if (strncmp(target, "tcp:", 4) && strncmp(target, "ssl:", 4)) {
        return EINVAL;
    }
    if (stream_parse_target(target, &ss, &ss_len, &tls)) {
        return EINVAL;
    }
    if (tls && !stream_tls_configured()) {
        return ENOKEY;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (bind(fd, (struct sockaddr *) &ss, ss_len) || listen(fd, 64)
        || getsockname(fd, (struct sockaddr *) &bound, &blen)) {
        int error = errno;
        close(fd);
        return error;
    }
    if (port_out) {
        *port_out = ntohs(bound.sin_port);
    }
    struct job *j = job_new(ctl, JOB_LISTEN);
    if (!j) {
        close(fd);
        return ENOMEM;
    }
    j->fd = fd;
    j->tls = tls;
    return job_post(j);
}

static int
post_target(struct ofctl *ctl, enum job_kind kind, const char *target)
{
    struct job *j = job_new(ctl, kind);
    if (!j || !(j->target = strdup(target))) {
        free(j);
        return ENOMEM;
    }
    return job_post(j);
}

int
ofctl_connect(struct ofctl *ctl, const char *target)
{
    struct sockaddr_storage ss;
    socklen_t ss_len;
    if (stream_parse_target(target, &ss, &ss_len, NULL)) {
        return EINVAL;
    }
    return post_target(ctl, JOB_CONNECT, target);
}

int
ofctl_disconnect(struct ofctl *ctl, const char *target)
{
    return post_target(ctl, JOB_DISCONNECT, target);
}

/* Encodes msgs[0..n) into a new job.  Returns the job or NULL (*error). */
static struct job *
encode_job(struct ofctl *ctl, enum job_kind kind, uint64_t dpid,
           const struct ofmsg *msgs, size_t n, int *error)
{
    struct job *j = job_new(ctl, kind);
    if (!j) {
        *error = ENOMEM;
        return NULL;
    }
    j->dpid = dpid;
    j->n = n;
    for (size_t i = 0; i < n; i++) {
        *error = ofmsg_encode(&msgs[i], &j->msgs);
        if (*error) {
            job_free(j);
            return NULL;
        }
    }
    *error = 0;
    return j;
}

int
ofctl_submit(struct ofctl *ctl, uint64_t dpid, const struct ofmsg *msgs, size_t n,
             ofctl_done_fn *done, void *aux)
{
    int error;
    struct job *j = encode_job(ctl, JOB_SUBMIT, dpid, msgs, n, &error);
    if (!j) {
        return error;
    }
    j->done = done;
    j->aux = aux;
    return job_post(j);
}

int
ofctl_set_role(struct ofctl *ctl, uint64_t dpid, enum ofctl_role role,
               uint64_t generation, uint64_t until_ms)
{
    static const uint32_t wire[] = {
        [OFCTL_ROLE_NONE] = OFPCR_ROLE_NOCHANGE, [OFCTL_ROLE_SLAVE] = OFPCR_ROLE_SLAVE,
        [OFCTL_ROLE_MASTER] = OFPCR_ROLE_MASTER, [OFCTL_ROLE_EQUAL] = OFPCR_ROLE_EQUAL,
    };
    if ((unsigned int) role > OFCTL_ROLE_EQUAL) {
        return EINVAL;
    }
    struct job *j = job_new(ctl, JOB_ROLE);
    if (!j) {
        return ENOMEM;
    }
    j->role = (struct role_entry) {dpid, wire[role], generation, until_ms};
    return job_post(j);
}

int
ofctl_send(struct ofctl *ctl, uint64_t dpid, const struct ofmsg *msg)
{
    int error;
    struct job *j = encode_job(ctl, JOB_SEND, dpid, msg, 1, &error);
    return j ? job_post(j) : error;
}

int
ofctl_dump_flows(struct ofctl *ctl, uint64_t dpid, uint64_t cookie,
                 uint64_t cookie_mask, ofctl_flows_fn *done, void *aux)
{
    struct job *j = job_new(ctl, JOB_FLOWS);
    if (!j) {
        return ENOMEM;
    }
    j->dpid = dpid;
    j->cookie = cookie;
    j->cookie_mask = cookie_mask;
    j->flows_done = done;
    j->aux = aux;
    return job_post(j);
}

void
ofctl_free_flows(struct offlow_stats *flows, size_t n)
{
    ofconn_free_flows(flows, n);
}

int
ofctl_dump_meters(struct ofctl *ctl, uint64_t dpid, ofctl_meters_fn *done, void *aux)
{
    struct job *j = job_new(ctl, JOB_METERS);
    if (!j) {
        return ENOMEM;
    }
    j->dpid = dpid;
    j->meters_done = done;
    j->aux = aux;
    return job_post(j);
}

void
ofctl_free_meters(struct ofmsg_meter_mod *meters, size_t n)
{
    ofconn_free_meters(meters, n);
}

/* --- blocking wrappers --- */

/* Shared by a blocked caller and the completion; freed by whichever drops
 * the last reference. */
struct waiter {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int refs;
    bool done;
    int error;
    size_t failed_index;
    struct ofmsg_error err;         /* data owned */
    struct offlow_stats *flows;     /* owned */
    size_t n;
    struct ofport *ports;           /* owned */
    struct ofmsg_meter_mod *meters; /* owned, n_meters */
    size_t n_meters;
    uint64_t dpid;
    struct ofctl *ctl;
};

static struct waiter *
waiter_create(void)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (w) {
        pthread_mutex_init(&w->mutex, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cond, &ca);
        pthread_condattr_destroy(&ca);
        w->refs = 2;
    }
    return w;
}

static void
waiter_unref(struct waiter *w)
{
    pthread_mutex_lock(&w->mutex);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mutex);
    if (last) {
        free(w->err.data);
        ofconn_free_flows(w->flows, w->n);
        ofconn_free_meters(w->meters, w->n_meters);
        free(w->ports);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mutex);
        free(w);
    }
}

static void
waiter_signal(struct waiter *w)
{
    pthread_mutex_lock(&w->mutex);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    waiter_unref(w);
}

static void
abs_deadline(struct timespec *ts, unsigned int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long) (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits for 'w' (whose second reference the loop holds).  Returns 0 once
 * done, ETIMEDOUT otherwise; the caller still holds its reference. */
static int
waiter_wait(struct waiter *w, unsigned int timeout_ms)
{
    struct timespec ts;
    abs_deadline(&ts, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&w->mutex);
    while (!w->done && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&w->cond, &w->mutex, &ts);
    }
    rc = w->done ? 0 : ETIMEDOUT;
    pthread_mutex_unlock(&w->mutex);
    return rc;
}

/* Finishes a blocking call: 'post_error' is what posting the request
 * returned (then the loop never got its reference).  Returns the request's
 * outcome, or ETIMEDOUT; the caller still holds its reference. */
static int
waiter_await(struct waiter *w, int post_error, unsigned int timeout_ms)
{
    if (post_error) {
        waiter_unref(w);
        return post_error;
    }
    int error = waiter_wait(w, timeout_ms);
    return error ? error : w->error;
}

static void
submit_waited(void *aux, int error, size_t failed_index, const struct ofmsg_error *err)
{
    struct waiter *w = aux;
    w->error = error;
    w->failed_index = failed_index;
    if (err) {
        w->err.type = err->type;
        w->err.code = err->code;
        w->err.data = err->len ? malloc(err->len) : NULL;
        if (w->err.data) {
            memcpy(w->err.data, err->data, err->len);
            w->err.len = err->len;
        }
    }
    waiter_signal(w);
}

int
ofctl_submit_wait(struct ofctl *ctl, uint64_t dpid, const struct ofmsg *msgs,
                  size_t n, unsigned int timeout_ms, size_t *failed_index,
                  struct ofmsg_error *err)
{
    struct waiter *w = waiter_create();
    if (!w) {
        return ENOMEM;
    }
    int error = waiter_await(w, ofctl_submit(ctl, dpid, msgs, n, submit_waited, w),
                             timeout_ms);
    if (error == EPROTO && failed_index) {
        *failed_index = w->failed_index;
    }
    if (error == EPROTO && err) {
        *err = w->err;
        w->err.data = NULL;
    }
    waiter_unref(w);
    return error;
}

static void
flows_waited(void *aux, int error, struct offlow_stats *flows, size_t n)
{
    struct waiter *w = aux;
    w->error = error;
    w->flows = flows;
    w->n = n;
    waiter_signal(w);
}

int
ofctl_dump_flows_wait(struct ofctl *ctl, uint64_t dpid, uint64_t cookie,
                      uint64_t cookie_mask, unsigned int timeout_ms,
                      struct offlow_stats **flows, size_t *n)
{
    *flows = NULL;
    *n = 0;
    struct waiter *w = waiter_create();
    if (!w) {
        return ENOMEM;
    }
    int error = waiter_await(
        w, ofctl_dump_flows(ctl, dpid, cookie, cookie_mask, flows_waited, w), timeout_ms);
    if (!error) {
        *flows = w->flows;
        *n = w->n;
        w->flows = NULL;
        w->n = 0;
    }
    waiter_unref(w);
    return error;
}

static void
meters_waited(void *aux, int error, struct ofmsg_meter_mod *meters, size_t n)
{
    struct waiter *w = aux;
    w->error = error;
    w->meters = meters;
    w->n_meters = n;
    waiter_signal(w);
}

int
ofctl_dump_meters_wait(struct ofctl *ctl, uint64_t dpid, unsigned int timeout_ms,
                       struct ofmsg_meter_mod **meters, size_t *n)
{
    *meters = NULL;
    *n = 0;
    struct waiter *w = waiter_create();
    if (!w) {
        return ENOMEM;
    }
    int error = waiter_await(w, ofctl_dump_meters(ctl, dpid, meters_waited, w),
                             timeout_ms);
    if (!error) {
        *meters = w->meters;
        *n = w->n_meters;
        w->meters = NULL;
        w->n_meters = 0;
    }
    waiter_unref(w);
    return error;
}

int
ofctl_wait_switches(struct ofctl *ctl, size_t count, uint64_t *dpids,
                    unsigned int timeout_ms)
{
    struct timespec ts;
    abs_deadline(&ts, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&ctl->mutex);
    while (ctl->n_up < count && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&ctl->cond, &ctl->mutex, &ts);
    }
    rc = ctl->n_up >= count ? 0 : ETIMEDOUT;
    if (!rc && dpids) {
        memcpy(dpids, ctl->up, count * sizeof *dpids);
    }
    pthread_mutex_unlock(&ctl->mutex);
    return rc;
}

static void
ports_job(struct loop *loop, void *aux)
{
    struct waiter *w = aux;
    (void) loop;
    struct ofconn *c = find_dpid(w->ctl, w->dpid);
    size_t n = 0;
    const struct ofport *p = c ? ofconn_ports(c, &n) : NULL;
    w->error = c ? 0 : ENOENT;
    if (c && n) {
        w->ports = malloc(n * sizeof *p);
        if (w->ports) {
            memcpy(w->ports, p, n * sizeof *p);
            w->n = n;
        } else {
            w->error = ENOMEM;
        }
    }
    waiter_signal(w);
}

const struct ofport *
ofctl_switch_ports(struct ofctl *ctl, uint64_t dpid, size_t *n)
{
    struct ofconn *c = find_dpid(ctl, dpid);
    *n = 0;
    return c ? ofconn_ports(c, n) : NULL;
}

int
ofctl_ports(struct ofctl *ctl, uint64_t dpid, struct ofport **ports, size_t *n)
{
    *ports = NULL;
    *n = 0;
    struct waiter *w = waiter_create();
    if (!w) {
        return ENOMEM;
    }
    w->ctl = ctl;
    w->dpid = dpid;
    int error = waiter_await(w, loop_post(ctl->loop, ports_job, w), 10000);
    if (!error) {
        *ports = w->ports;
        *n = w->n;
        w->ports = NULL;
    }
    waiter_unref(w);
    return error;
}
