/* ofbench.c: an OpenFlow 1.3 controller benchmark in the spirit of cbench.
 *
 * N emulated switches connect to a controller over TCP, complete the 1.3
 * handshake (HELLO with a version bitmap, FEATURES, and whatever the
 * controller asks: echo, barrier, multipart, config, role), then send
 * PACKET_INs of unbuffered frames (buffer_id = NO_BUFFER, reason = no match)
 * between M emulated hosts per switch.  A learning-switch controller answers
 * each with exactly one PACKET_OUT (plus a FLOW_MOD once it knows the
 * destination), so an answered packet-in is a received PACKET_OUT.
 *
 *   latency mode     one packet-in outstanding per switch; the round trip
 *                    of each is recorded;
 *   throughput mode  up to --depth packet-ins outstanding per switch; the
 *                    answers are counted (and, since a controller answers a
 *                    switch in order, each answer is matched to the oldest
 *                    outstanding packet-in for a queueing-latency figure).
 *
 * The emulator is one thread with an epoll loop and encodes the few messages
 * it sends itself: a benchmark's switch must stay cheap and independent of
 * the controller it measures (it shares only core/packet.h's numbers and
 * inline MAC byte helpers, nothing it links).  Output is one line of key=value pairs:
 *   mode=latency switches=16 macs=1000 seconds=5 responses=... rps=...
 *   mean_us=... p50_us=... p90_us=... p99_us=... flow_mods=... errors=...
 * Hosts: host j of switch s has MAC 02:00:ss:ss:jj:jj on port j % 8 + 1.
 *
 * A profile (--profile FILE) replaces the synthetic hosts with what a
 * given network would send: per switch its datapath id, its ports (number
 * and name, answered to PORT_DESC) and the packet-ins it sends in turn,
 * each with its table id, reason, cookie, in_port, metadata (sent in the
 * match when non-zero, as Open vSwitch does), MACs, IPv4 addresses and the
 * port its answer should output to.  Lines:
 *   switch DPID
 *   port NO NAME
 *   frame TABLE REASON COOKIE IN_PORT METADATA SRC_MAC DST_MAC SRC_IP DST_IP EXPECT
 * (numbers in hex but NO, TABLE, REASON, IN_PORT, EXPECT; EXPECT 0: any).
 * Answers whose first output port is not the expected one are counted as
 * wrong=N (a controller that floods before it has learned has some). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/packet.h"

#define OFP13 4
enum {
    T_HELLO = 0, T_ERROR = 1, T_ECHO_REQUEST = 2, T_ECHO_REPLY = 3,
    T_FEATURES_REQUEST = 5, T_FEATURES_REPLY = 6, T_GET_CONFIG_REQUEST = 7,
    T_GET_CONFIG_REPLY = 8, T_PACKET_IN = 10, T_PACKET_OUT = 13,
    T_FLOW_MOD = 14, T_MULTIPART_REQUEST = 18, T_MULTIPART_REPLY = 19,
    T_BARRIER_REQUEST = 20, T_BARRIER_REPLY = 21, T_ROLE_REQUEST = 24,
    T_ROLE_REPLY = 25,
};
#define PORTS 8
#define FRAME_LEN 64
#define IN_CAP (256 * 1024)
#define OUT_CAP (1024 * 1024)
#define MAX_DEPTH 4096
#define HIST_US 200000          /* latency histogram: 1 us buckets to 200 ms */
#define MAX_PROFILE_PORTS 64
#define MAX_PROFILE_FRAMES 256

struct pframe {
    uint8_t table, reason;
    uint64_t cookie, metadata, src, dst;
    uint32_t in_port, src_ip, dst_ip, expect;
};

struct profile_sw {
    uint64_t dpid;
    uint32_t port_no[MAX_PROFILE_PORTS];
    char port_name[MAX_PROFILE_PORTS][16];
    unsigned int n_ports;
    struct pframe frames[MAX_PROFILE_FRAMES];
    unsigned int n_frames;
};

struct sw {
    int fd;
    unsigned int index;
    bool ready;                 /* features exchanged */
    uint8_t in[IN_CAP];
    size_t in_len;
    uint8_t *out;
    size_t out_len;
    unsigned int outstanding;
    uint64_t sent_at[MAX_DEPTH]; /* ring of send times of outstanding PIs */
    uint32_t expect[MAX_DEPTH];  /* ring of expected output ports (profile) */
    const struct profile_sw *prof;  /* NULL: synthetic hosts */
    unsigned int ring_head;
    uint32_t next_host;
    uint32_t xid;
};

static struct {
    unsigned int switches, macs, depth;
    double seconds, warmup;
    bool latency;
    struct sockaddr_in addr;
} opt = {16, 1000, 64, 5.0, 1.0, true, {0}};

static uint64_t responses, flow_mods, errors, wrong;
static struct profile_sw *profile;
static unsigned int n_profile;
static uint32_t *hist;
static uint64_t hist_over;
static uint64_t rtt_sum_ns;      /* measured round trips, for the mean */
static bool measuring;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t) (v >> 16));
    put16(p + 2, (uint16_t) v);
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t) (v >> 32));
    put32(p + 4, (uint32_t) v);
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/* Reserves 'len' bytes at the end of the switch's output buffer. */
static uint8_t *
out_reserve(struct sw *s, size_t len)
{
    if (s->out_len + len > OUT_CAP) {
        return NULL;
    }
    uint8_t *p = s->out + s->out_len;
    s->out_len += len;
    memset(p, 0, len);
    return p;
}

static uint8_t *
out_msg(struct sw *s, uint8_t type, uint16_t len, uint32_t xid)
{
    uint8_t *p = out_reserve(s, len);
    if (p) {
        p[0] = OFP13;
        p[1] = type;
        put16(p + 2, len);
        put32(p + 4, xid);
    }
    return p;
}

static void
mac_of(uint8_t mac[6], unsigned int sw, unsigned int host)
{
    mac[0] = 0x02;
    mac[1] = 0x00;
    mac[2] = (uint8_t) (sw >> 8);
    mac[3] = (uint8_t) sw;
    mac[4] = (uint8_t) (host >> 8);
    mac[5] = (uint8_t) host;
}

/* Queues the next PACKET_IN of the switch's profile. */
static bool
send_profile_packet_in(struct sw *s)
{
    const struct pframe *fr = &s->prof->frames[s->next_host++ % s->prof->n_frames];
    enum { HDR = 8 + 4 + 2 + 1 + 1 + 8 };
    size_t match_len = 4 + 8 + (fr->metadata ? 12 : 0);
    size_t match_pad = (match_len + 7) / 8 * 8;
    uint16_t len = (uint16_t) (HDR + match_pad + 2 + FRAME_LEN);
    uint8_t *p = out_msg(s, T_PACKET_IN, len, ++s->xid);
    if (!p) {
        return false;
    }
    put32(p + 8, 0xffffffffu);
    put16(p + 12, FRAME_LEN);
    p[14] = fr->reason;
    p[15] = fr->table;
    put64(p + 16, fr->cookie);
    uint8_t *m = p + HDR;
    put16(m, 1);
    put16(m + 2, (uint16_t) match_len);
    put32(m + 4, 0x80000004u);          /* OXM_OF_IN_PORT */
    put32(m + 8, fr->in_port);
    if (fr->metadata) {
        put32(m + 12, 0x80000408u);     /* OXM_OF_METADATA, 8 bytes */
        put64(m + 16, fr->metadata);
    }
    uint8_t *f = p + HDR + match_pad + 2;
    packet_put_mac(f, fr->dst);
    packet_put_mac(f + 6, fr->src);
    put16(f + 12, ETH_TYPE_IP);
    f[14] = 0x45;
    put16(f + 16, FRAME_LEN - 14);
    f[22] = 64;
    f[23] = IP_PROTO_UDP;
    put32(f + 26, fr->src_ip);
    put32(f + 30, fr->dst_ip);
    unsigned int slot = (s->ring_head + s->outstanding) % MAX_DEPTH;
    s->sent_at[slot] = now_ns();
    s->expect[slot] = fr->expect;
    s->outstanding++;
    return true;
}

/* Queues one PACKET_IN from host h to a host on another port. */
static bool
send_packet_in(struct sw *s)
{
    if (s->prof) {
        return send_profile_packet_in(s);
    }
    enum { MATCH_LEN = 16, HDR = 8 + 4 + 2 + 1 + 1 + 8 };
    uint16_t len = HDR + MATCH_LEN + 2 + FRAME_LEN;
    uint8_t *p = out_msg(s, T_PACKET_IN, len, ++s->xid);
    if (!p) {
        return false;
    }
    uint32_t src = s->next_host++ % opt.macs;
    uint32_t dst = (src + 1 + (src % (PORTS - 1))) % opt.macs;
    if (dst % PORTS == src % PORTS) {
        dst = (dst + 1) % opt.macs;
    }
    put32(p + 8, 0xffffffffu);          /* buffer_id: NO_BUFFER */
    put16(p + 12, FRAME_LEN);           /* total_len */
    p[14] = 0;                          /* reason: OFPR_NO_MATCH */
    p[15] = 0;                          /* table_id */
    put64(p + 16, 0);                   /* cookie */
    uint8_t *m = p + HDR;               /* ofp_match, OXM, in_port only */
    put16(m, 1);
    put16(m + 2, 4 + 8);
    put32(m + 4, 0x80000004u);          /* OXM_OF_IN_PORT, 4 bytes */
    put32(m + 8, src % PORTS + 1);
    uint8_t *f = p + HDR + MATCH_LEN + 2;
    mac_of(f, s->index, dst);
    mac_of(f + 6, s->index, src);
    put16(f + 12, ETH_TYPE_IP);         /* IPv4/UDP, as cbench sends */
    f[14] = 0x45;
    put16(f + 16, FRAME_LEN - 14);
    f[22] = 64;
    f[23] = IP_PROTO_UDP;
    put32(f + 26, 0x0a000000u | s->index << 16 | src);
    put32(f + 30, 0x0a000000u | s->index << 16 | dst);
    s->sent_at[(s->ring_head + s->outstanding) % MAX_DEPTH] = now_ns();
    s->outstanding++;
    return true;
}

static void
record(uint64_t rtt_ns)
{
    uint64_t us = rtt_ns / 1000;
    rtt_sum_ns += rtt_ns;
    if (us < HIST_US) {
        hist[us]++;
    } else {
        hist_over++;
    }
}

/* The first output port of a PACKET_OUT, 0 if none. */
static uint32_t
first_output(const uint8_t *m, uint16_t len)
{
    if (len < 24) {
        return 0;
    }
    size_t alen = get16(m + 16), off = 24;
    while (off + 8 <= 24 + alen && off + 8 <= len) {
        uint16_t type = get16(m + off), l = get16(m + off + 2);
        if (l < 8) {
            return 0;
        }
        if (type == 0 && l >= 16 && off + 8 <= len) {
            return (uint32_t) m[off + 4] << 24 | (uint32_t) m[off + 5] << 16
                   | (uint32_t) m[off + 6] << 8 | m[off + 7];
        }
        off += l;
    }
    return 0;
}

static void
answered(struct sw *s, const uint8_t *m, uint16_t len)
{
    if (!s->outstanding) {
        return;             /* an answer to something else (flood of a PO) */
    }
    uint32_t expect = s->expect[s->ring_head];
    if (s->prof && expect && measuring && first_output(m, len) != expect) {
        wrong++;
    }
    uint64_t sent = s->sent_at[s->ring_head];
    s->ring_head = (s->ring_head + 1) % MAX_DEPTH;
    s->outstanding--;
    if (measuring) {
        responses++;
        record(now_ns() - sent);
    }
}

/* Fills the pipeline of a ready switch. */
static void
refill(struct sw *s)
{
    unsigned int want = opt.latency ? 1 : opt.depth;
    while (s->ready && s->outstanding < want && send_packet_in(s)) {
        continue;
    }
}

static void
handle(struct sw *s, const uint8_t *m, uint16_t len)
{
    uint8_t type = m[1];
    uint32_t xid = (uint32_t) m[4] << 24 | (uint32_t) m[5] << 16
                   | (uint32_t) m[6] << 8 | m[7];
    uint8_t *p;
    switch (type) {
    case T_HELLO:
        break;
    case T_ERROR:
        errors++;
        break;
    case T_ECHO_REQUEST:
        if ((p = out_msg(s, T_ECHO_REPLY, len, xid))) {
            memcpy(p + 8, m + 8, len - 8u);
        }
        break;
    case T_FEATURES_REQUEST:
        if ((p = out_msg(s, T_FEATURES_REPLY, 32, xid))) {
            put64(p + 8, s->prof ? s->prof->dpid
                                 : 0x5b00000000000000ULL | (s->index + 1));
            put32(p + 16, 256);         /* n_buffers */
            p[20] = 254;                /* n_tables */
            put32(p + 24, 0x4f);        /* capabilities */
        }
        s->ready = true;
        break;
    case T_GET_CONFIG_REQUEST:
        if ((p = out_msg(s, T_GET_CONFIG_REPLY, 12, xid))) {
            put16(p + 10, 0xffff);
        }
        break;
    case T_MULTIPART_REQUEST:
        if (len >= 12 && s->prof && get16(m + 8) == 13) {  /* PORT_DESC */
            uint16_t n = (uint16_t) s->prof->n_ports;
            if ((p = out_msg(s, T_MULTIPART_REPLY, (uint16_t) (16 + 64 * n), xid))) {
                put16(p + 8, 13);
                for (unsigned int i = 0; i < n; i++) {
                    uint8_t *pp = p + 16 + 64 * i;
                    put32(pp, s->prof->port_no[i]);
                    packet_put_mac(pp + 8, 0x020000000000ull | s->prof->port_no[i]);
                    memcpy(pp + 16, s->prof->port_name[i], 16);
                    put32(pp + 36, 4);  /* state: live */
                }
            }
        } else if (len >= 12 && (p = out_msg(s, T_MULTIPART_REPLY, 16, xid))) {
            memcpy(p + 8, m + 8, 2);    /* same type, empty body */
        }
        break;
    case T_BARRIER_REQUEST:
        out_msg(s, T_BARRIER_REPLY, 8, xid);
        break;
    case T_ROLE_REQUEST:
        if (len >= 24 && (p = out_msg(s, T_ROLE_REPLY, 24, xid))) {
            memcpy(p + 8, m + 8, 16);
        }
        break;
    case T_PACKET_OUT:
        answered(s, m, len);
        break;
    case T_FLOW_MOD:
        if (measuring) {
            flow_mods++;
        }
        break;
    default:
        break;
    }
}

static int
flush_out(struct sw *s)
{
    size_t off = 0;
    while (off < s->out_len) {
        ssize_t n = send(s->fd, s->out + off, s->out_len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                break;
            }
            return -1;
        }
        off += (size_t) n;
    }
    memmove(s->out, s->out + off, s->out_len - off);
    s->out_len -= off;
    return 0;
}

static int
read_in(struct sw *s)
{
    for (;;) {
        ssize_t n = recv(s->fd, s->in + s->in_len, IN_CAP - s->in_len, 0);
        if (n == 0) {
            return -1;
        }
        if (n < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        s->in_len += (size_t) n;
        size_t off = 0;
        while (s->in_len - off >= 8) {
            uint16_t len = get16(s->in + off + 2);
            if (len < 8) {
                fprintf(stderr, "ofbench: switch %u: bad message length %u\n",
                        s->index, len);
                return -1;
            }
            if (s->in_len - off < len) {
                break;
            }
            handle(s, s->in + off, len);
            off += len;
        }
        memmove(s->in, s->in + off, s->in_len - off);
        s->in_len -= off;
        refill(s);
        if (flush_out(s)) {
            return -1;
        }
    }
}

static double
percentile(double q, uint64_t total)
{
    uint64_t target = (uint64_t) (q * (double) total), seen = 0;
    for (unsigned int us = 0; us < HIST_US; us++) {
        seen += hist[us];
        if (seen > target) {
            return us + 0.5;
        }
    }
    return HIST_US;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: ofbench --controller IP:PORT [--switches N] [--macs M]\n"
            "               [--mode latency|throughput] [--depth D]\n"
            "               [--seconds S] [--warmup W] [--profile FILE]\n");
    exit(2);
}

/* Reads a profile (see the top of the file); exits on a bad one. */
static void
load_profile(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[512];
    unsigned int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char kw[16];
        if (sscanf(line, "%15s", kw) != 1 || kw[0] == '#') {
            continue;
        }
        struct profile_sw *ps = n_profile ? &profile[n_profile - 1] : NULL;
        bool ok = false;
        if (!strcmp(kw, "switch")) {
            struct profile_sw *g = realloc(profile, (n_profile + 1) * sizeof *g);
            if (g) {
                profile = g;
                ps = &profile[n_profile++];
                memset(ps, 0, sizeof *ps);
                ok = sscanf(line, "%*s %" SCNx64, &ps->dpid) == 1;
            }
        } else if (!strcmp(kw, "port") && ps && ps->n_ports < MAX_PROFILE_PORTS) {
            unsigned int i = ps->n_ports;
            ok = sscanf(line, "%*s %" SCNu32 " %15s", &ps->port_no[i], ps->port_name[i]) == 2;
            ps->n_ports += ok;
        } else if (!strcmp(kw, "frame") && ps && ps->n_frames < MAX_PROFILE_FRAMES) {
            struct pframe *fr = &ps->frames[ps->n_frames];
            unsigned int table, reason;
            ok = sscanf(line, "%*s %u %u %" SCNx64 " %" SCNu32 " %" SCNx64 " %" SCNx64
                        " %" SCNx64 " %" SCNx32 " %" SCNx32 " %" SCNu32, &table, &reason,
                        &fr->cookie, &fr->in_port, &fr->metadata, &fr->src, &fr->dst,
                        &fr->src_ip, &fr->dst_ip, &fr->expect) == 10
                 && table < 256 && reason < 256;
            fr->table = (uint8_t) table;
            fr->reason = (uint8_t) reason;
            ps->n_frames += ok;
        }
        if (!ok) {
            fprintf(stderr, "%s:%u: bad line\n", path, lineno);
            exit(2);
        }
    }
    fclose(f);
    for (unsigned int i = 0; i < n_profile; i++) {
        if (!profile[i].n_frames) {
            fprintf(stderr, "%s: switch %u has no frames\n", path, i);
            exit(2);
        }
    }
    if (!n_profile) {
        fprintf(stderr, "%s: no switches\n", path);
        exit(2);
    }
    opt.switches = n_profile;
}

static void
parse(int argc, char **argv)
{
    static const struct option lo[] = {
        {"controller", required_argument, NULL, 'c'},
        {"switches", required_argument, NULL, 's'},
        {"macs", required_argument, NULL, 'm'},
        {"mode", required_argument, NULL, 'M'},
        {"depth", required_argument, NULL, 'd'},
        {"seconds", required_argument, NULL, 't'},
        {"warmup", required_argument, NULL, 'w'},
        {"profile", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    bool have_ctl = false;
    const char *profile_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'c': {
            char host[64];
            unsigned int port;
            if (sscanf(optarg, "%63[0-9.]:%u", host, &port) != 2 || !port
                || port > 65535
                || inet_pton(AF_INET, host, &opt.addr.sin_addr) != 1) {
                usage();
            }
            opt.addr.sin_family = AF_INET;
            opt.addr.sin_port = htons((uint16_t) port);
            have_ctl = true;
            break;
        }
        case 's': opt.switches = (unsigned int) atoi(optarg); break;
        case 'm': opt.macs = (unsigned int) atoi(optarg); break;
        case 'M': opt.latency = !strcmp(optarg, "latency"); break;
        case 'd': opt.depth = (unsigned int) atoi(optarg); break;
        case 't': opt.seconds = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'p': profile_path = optarg; break;
        default: usage();
        }
    }
    if (profile_path) {
        load_profile(profile_path);
    }
    if (!have_ctl || opt.switches < 1 || opt.switches > 4096 || opt.macs < 2
        || opt.macs > 65535 || opt.depth < 1 || opt.depth > MAX_DEPTH
        || opt.seconds <= 0) {
        usage();
    }
}

int
main(int argc, char **argv)
{
    parse(argc, argv);
    hist = calloc(HIST_US, sizeof *hist);
    struct sw *sws = calloc(opt.switches, sizeof *sws);
    int ep = epoll_create1(0);
    if (!hist || !sws || ep < 0) {
        perror("ofbench");
        return 1;
    }
    for (unsigned int i = 0; i < opt.switches; i++) {
        struct sw *s = &sws[i];
        s->index = i;
        s->prof = n_profile ? &profile[i] : NULL;
        s->out = malloc(OUT_CAP);
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!s->out || connect(s->fd, (struct sockaddr *) &opt.addr, sizeof opt.addr)) {
            perror("ofbench: connect");
            return 1;
        }
        uint8_t *p = out_msg(s, T_HELLO, 16, 1);
        put16(p + 8, 1);                /* OFPHET_VERSIONBITMAP */
        put16(p + 10, 8);
        put32(p + 12, 1u << OFP13);
        flush_out(s);
        if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK)) {
            perror("ofbench: fcntl");
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                 .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
    uint64_t start = now_ns();
    uint64_t warm_end = start + (uint64_t) (opt.warmup * 1e9);
    uint64_t end = warm_end + (uint64_t) (opt.seconds * 1e9);
    struct epoll_event evs[256];
    int rc = 0;
    while (now_ns() < end) {
        if (!measuring && now_ns() >= warm_end) {
            measuring = true;
            memset(hist, 0, HIST_US * sizeof *hist);
            rtt_sum_ns = 0;
        }
        int n = epoll_wait(ep, evs, 256, 10);
        for (int i = 0; i < n; i++) {
            struct sw *s = evs[i].data.ptr;
            if (((evs[i].events & EPOLLIN) && read_in(s))
                || ((evs[i].events & EPOLLOUT) && (refill(s), flush_out(s)))
                || (evs[i].events & (EPOLLHUP | EPOLLERR))) {
                fprintf(stderr, "ofbench: switch %u lost its connection\n", s->index);
                rc = 1;
                goto done;
            }
        }
    }
done:;
    unsigned int ready = 0;
    for (unsigned int i = 0; i < opt.switches; i++) {
        ready += sws[i].ready;
    }
    uint64_t total = 0;
    for (unsigned int us = 0; us < HIST_US; us++) {
        total += hist[us];
    }
    total += hist_over;
    printf("mode=%s switches=%u ready=%u macs=%u depth=%u seconds=%.1f "
           "responses=%llu rps=%.0f mean_us=%.2f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
           "flow_mods=%llu errors=%llu wrong=%llu\n",
           opt.latency ? "latency" : "throughput", opt.switches, ready, opt.macs,
           opt.latency ? 1 : opt.depth, opt.seconds,
           (unsigned long long) responses, (double) responses / opt.seconds,
           total ? (double) rtt_sum_ns / 1e3 / (double) total : 0,
           total ? percentile(0.50, total) : 0, total ? percentile(0.90, total) : 0,
           total ? percentile(0.99, total) : 0, (unsigned long long) flow_mods,
           (unsigned long long) errors, (unsigned long long) wrong);
    fflush(stdout);
    for (unsigned int i = 0; i < opt.switches; i++) {
        close(sws[i].fd);
        free(sws[i].out);
    }
    free(sws);
    free(hist);
    free(profile);
    close(ep);
    return rc || ready < opt.switches || !responses;
}
