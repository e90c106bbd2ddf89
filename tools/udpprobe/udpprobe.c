/* udpprobe.c: the data plane's loss, as sequence-numbered UDP counted at the
 * sender.
 *
 *   udpprobe send --to IP:PORT [--rate PPS] [--duration S | --count N]
 *                 [--size BYTES] [--from IP] [--linger MS] [--mark-at SEQ]...
 *   udpprobe echo [--listen IP:PORT] [--drop FIRST-LAST]... [--dup SEQ]...
 *                 [--hold SEQ]...
 *
 * `echo` (in one namespace) sends every probe datagram back to where it came
 * from; `send` (in another) paces datagrams at --rate per second (default
 * 1000) towards it, carrying a sequence number, and counts what comes back.
 * It stops after --duration seconds, after --count datagrams, or on SIGINT or
 * SIGTERM, waits up to --linger ms (default 500) for late echoes, and prints
 * one JSON line on stdout:
 *
 *   {"rate":1000,"size":64,"duration_ms":..,"sent":..,"received":..,
 *    "lost":..,"duplicated":..,"reordered":..,"max_gap_ms":..,
 *    "max_loss_run":..,"max_loss_run_ms":..,"send_errors":..,"stray":..,
 *    "rtt_ms":{"min":..,"avg":..,"max":..} (null when nothing came back),
 *    "windows":[{"from_ms":..,"first_seq":..,"sent":..,"received":..,
 *                "lost":..,"duplicated":..,"reordered":..,"max_gap_ms":..,
 *                "max_loss_run":..}, ...]}
 *
 * The counts, all over the round trip (a datagram lost on either way is
 * lost):
 * - sent: schedule slots used, one sequence number each (a datagram the
 *   kernel refused at once still counts as sent, and also in send_errors);
 * - received: distinct sequence numbers that came back; lost = sent -
 *   received; duplicated: copies beyond the first; reordered: first copies
 *   arriving after a higher sequence number had arrived;
 * - max_gap_ms: the longest time without any echo arriving.  The receive
 *   timeline starts with the run (its first slot) and ends when the last
 *   datagram is sent (or its echo arrives, whichever is later), so an
 *   outage at either end counts too; duration_ms is the run up to the last
 *   send;
 * - max_loss_run: the longest run of consecutive lost sequence numbers
 *   (max_loss_run_ms: that run at the nominal rate);
 * - stray: datagrams that were not an echo of this run.
 *
 * Marks: SIGUSR1 (or --mark-at SEQ, just before SEQ is sent: deterministic,
 * for tests) closes the current window and opens the next, so a test marks
 * a fault's start and end and reads the loss during the fault from its
 * window.  Window k holds the sequence numbers sent from its mark to the
 * next; its max_gap_ms is the longest time without an echo that falls
 * within its time span.  Without marks there is one window, the whole run.
 *
 * Pacing: slots at fixed times from the start; a sender a little behind
 * (descheduled) sends the slots it missed at once, one more than 50 ms
 * behind restarts its schedule from now, so a slow host lowers `sent` and
 * never bursts more than 50 ms' worth.  An echo that has not come back
 * within the linger counts as lost.
 *
 * The echo's impairments make the counting testable without touching the
 * network: --drop FIRST-LAST never answers those sequence numbers, --dup SEQ
 * answers twice, --hold SEQ answers SEQ only after the next datagram (one
 * reordering).  On SIGINT or SIGTERM the echo prints its own counts, one
 * JSON line: {"echoed","dropped","duplicated","held","ignored"}.
 *
 * Both print one line on stderr once they are ready (the echo bound, the
 * sender's signal handlers installed: a SIGUSR1 before that would end it),
 * "udpprobe: echo listening on IP:PORT" and "udpprobe: sending to IP:PORT
 * at PPS/s"; stdout carries only the one JSON line of counts.
 *
 * The datagram: magic "SKYP", a run id (random per sender), the sequence
 * number and the sender's send time (CLOCK_MONOTONIC ns, read back only by
 * the sender, for the RTT), big-endian, padded to --size bytes (default 64,
 * at least 24).
 *
 * Exit status: 0 done, 1 a socket error, 64 bad usage. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAGIC 0x534b5950u         /* "SKYP" */
#define PROBE_HDR 24
#define PROBE_MAX_SIZE 65507
#define PROBE_MAX_LAG_NS 50000000LL     /* 50 ms behind: restart the schedule */
#define PROBE_MAX_LIST 64
#define EXIT_USAGE 64

static const char usage_text[] =
    "usage: udpprobe send --to IP:PORT [--rate PPS] [--duration S | --count N]\n"
    "                     [--size BYTES] [--from IP] [--linger MS] [--mark-at SEQ]...\n"
    "       udpprobe echo [--listen IP:PORT] [--drop FIRST-LAST]... [--dup SEQ]...\n"
    "                     [--hold SEQ]...\n"
    "\n"
    "send: sequence-numbered UDP at PPS per second (default 1000) to an echo; stops\n"
    "after S seconds, N datagrams, or on SIGINT/SIGTERM, waits MS (default 500) for\n"
    "late echoes and prints one JSON line: sent, received, lost, duplicated,\n"
    "reordered, max_gap_ms, max_loss_run, rtt_ms, and per window (SIGUSR1 or\n"
    "--mark-at opens the next window) the same counts.\n"
    "echo: answers every probe datagram (default listen 0.0.0.0:7001); --drop,\n"
    "--dup and --hold impair it on purpose, to test the counting.\n";

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t marks_requested;

static void
on_stop(int sig)
{
    (void) sig;
    stop_requested = 1;
}

static void
on_mark(int sig)
{
    (void) sig;
    marks_requested++;
}

/* Installs the handlers without SA_RESTART, so a blocking call returns
 * EINTR and the loop sees the flag. */
static void
install_signals(bool marks)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (marks) {
        sa.sa_handler = on_mark;
        sigaction(SIGUSR1, &sa, NULL);
    }
}

static int64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double
ms(int64_t ns)
{
    return (double) ns / 1e6;
}

static int
usage(void)
{
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* Names what is wrong with the command line; returns the exit status. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "udpprobe: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return usage();
}

/* Parses an unsigned decimal in [min, max]; false on anything else. */
static bool
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') {
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* Resolves "IP:PORT" or "[IPv6]:PORT" (numeric only; a missing PORT when
 * 'port_optional' gives port 0) into 'ss'. */
static bool
parse_addr(const char *text, bool port_optional, struct sockaddr_storage *ss,
           socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port = NULL;
    size_t hl;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close) {
            return false;
        }
        hl = (size_t) (close - text - 1);
        if (close[1] == ':') {
            port = close + 2;
        } else if (close[1]) {
            return false;
        }
        text++;
    } else {
        const char *colon = strrchr(text, ':');
        hl = colon ? (size_t) (colon - text) : strlen(text);
        port = colon ? colon + 1 : NULL;
    }
    if (hl == 0 || hl >= sizeof host || (!port && !port_optional)) {
        return false;
    }
    memcpy(host, text, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port ? port : "0", &hints, &ai) || !ai) {
        return false;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

static void
format_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%u", host, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *) ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%u", host, port);
    }
}

/* ---- the datagram --------------------------------------------------------- */

struct probe_hdr {
    uint32_t run;
    uint64_t seq;
    int64_t sent_ns;
};

static void
hdr_put(unsigned char *p, const struct probe_hdr *h)
{
    uint32_t m = htobe32(PROBE_MAGIC), r = htobe32(h->run);
    uint64_t s = htobe64(h->seq), t = htobe64((uint64_t) h->sent_ns);
    memcpy(p, &m, 4);
    memcpy(p + 4, &r, 4);
    memcpy(p + 8, &s, 8);
    memcpy(p + 16, &t, 8);
}

static bool
hdr_get(const unsigned char *p, size_t n, struct probe_hdr *h)
{
    uint32_t m, r;
    uint64_t s, t;
    if (n < PROBE_HDR) {
        return false;
    }
    memcpy(&m, p, 4);
    memcpy(&r, p + 4, 4);
    memcpy(&s, p + 8, 8);
    memcpy(&t, p + 16, 8);
    if (be32toh(m) != PROBE_MAGIC) {
        return false;
    }
    h->run = be32toh(r);
    h->seq = be64toh(s);
    h->sent_ns = (int64_t) be64toh(t);
    return true;
}

/* ---- send ------------------------------------------------------------------ */

/* One window: the sequence numbers from first_seq up to the next window's,
 * and the time span from from_ns up to the next window's. */
struct window {
    int64_t from_ns;
    uint64_t first_seq;
    uint64_t received, duplicated, reordered, lost, max_loss_run;
    int64_t max_gap_ns;
};

struct sender {
    int fd;
    struct sockaddr_storage to, from;
    socklen_t to_len, from_len;         /* from_len 0: any source */
    uint64_t rate, size, count;
    int64_t duration_ns, linger_ns, interval_ns;
    uint64_t mark_at[PROBE_MAX_LIST];
    size_t n_mark_at;
    uint32_t run;

    int64_t start_ns, last_send_ns, last_arrival_ns;
    uint64_t seq;                       /* next to send = number sent */
    uint64_t send_errors, stray, received, duplicated, reordered, max_seen;
    bool any_seen;
    int64_t max_gap_ns, rtt_min, rtt_max, rtt_sum;
    unsigned char *got;                 /* copies received per seq, saturating */
    size_t got_cap;
    struct window *win;
    size_t n_win, win_cap;
    int marks_taken;
};

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "udpprobe: out of memory\n");
        exit(1);
    }
    return q;
}

static void
window_open(struct sender *s, int64_t now)
{
    if (s->n_win == s->win_cap) {
        s->win_cap = s->win_cap ? 2 * s->win_cap : 8;
        s->win = xrealloc(s->win, s->win_cap * sizeof *s->win);
    }
    s->win[s->n_win++] = (struct window) {.from_ns = now, .first_seq = s->seq};
}

/* The window holding sequence number 'seq'. */
static struct window *
window_of_seq(struct sender *s, uint64_t seq)
{
    size_t k = s->n_win;
    while (k > 1 && s->win[k - 1].first_seq > seq) {
        k--;
    }
    return &s->win[k - 1];
}

/* Records a stretch [a, b) without echoes: the run's longest and, per
 * window, the longest part of it inside the window's time span. */
static void
gap_record(struct sender *s, int64_t a, int64_t b)
{
    if (b <= a) {
        return;
    }
    if (b - a > s->max_gap_ns) {
        s->max_gap_ns = b - a;
    }
    for (size_t k = 0; k < s->n_win; k++) {
        int64_t lo = s->win[k].from_ns;
        int64_t hi = k + 1 < s->n_win ? s->win[k + 1].from_ns : INT64_MAX;
        int64_t x = a > lo ? a : lo, y = b < hi ? b : hi;
        if (y - x > s->win[k].max_gap_ns) {
            s->win[k].max_gap_ns = y - x;
        }
    }
}

static void
seq_reserve(struct sender *s, uint64_t seq)
{
    if (seq < s->got_cap) {
        return;
    }
    size_t cap = s->got_cap ? s->got_cap : 4096;
    while (cap <= seq) {
        cap *= 2;
    }
    s->got = xrealloc(s->got, cap);
    memset(s->got + s->got_cap, 0, cap - s->got_cap);
    s->got_cap = cap;
}

static void
take_marks(struct sender *s, int64_t now)
{
    while (s->marks_taken < marks_requested) {
        s->marks_taken++;
        window_open(s, now);
    }
    for (size_t i = 0; i < s->n_mark_at; i++) {
        if (s->mark_at[i] == s->seq) {
            window_open(s, now);
        }
    }
}

static void
send_one(struct sender *s, int64_t now)
{
    static unsigned char buf[PROBE_MAX_SIZE];
    struct probe_hdr h = {.run = s->run, .seq = s->seq, .sent_ns = now};
    hdr_put(buf, &h);
    seq_reserve(s, s->seq);
    if (sendto(s->fd, buf, s->size, 0, (struct sockaddr *) &s->to, s->to_len) < 0) {
        s->send_errors++;
    }
    s->last_send_ns = now;
    s->seq++;
}

/* Reads every datagram waiting on the socket. */
static void
drain(struct sender *s)
{
    unsigned char buf[PROBE_HDR + 64];
    for (;;) {
        ssize_t n = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            return;                     /* EAGAIN, or an ICMP error: nothing to count */
        }
        int64_t now = mono_ns();
        struct probe_hdr h;
        if (!hdr_get(buf, (size_t) n, &h) || h.run != s->run || h.seq >= s->seq) {
            s->stray++;
            continue;
        }
        gap_record(s, s->last_arrival_ns, now);
        s->last_arrival_ns = now;
        struct window *w = window_of_seq(s, h.seq);
        if (s->got[h.seq]) {
            s->duplicated++;
            w->duplicated++;
            if (s->got[h.seq] < 255) {
                s->got[h.seq]++;
            }
            continue;
        }
        s->got[h.seq] = 1;
        s->received++;
        w->received++;
        if (s->any_seen && h.seq < s->max_seen) {
            s->reordered++;
            w->reordered++;
        } else {
            s->max_seen = h.seq;
            s->any_seen = true;
        }
        int64_t rtt = now - h.sent_ns;
        if (s->received == 1 || rtt < s->rtt_min) {
            s->rtt_min = rtt;
        }
        if (rtt > s->rtt_max) {
            s->rtt_max = rtt;
        }
        s->rtt_sum += rtt;
    }
}

/* Waits until 'deadline' or a datagram or a signal, then drains. */
static void
wait_until(struct sender *s, int64_t deadline)
{
    int64_t left = deadline - mono_ns();
    if (left < 0) {
        left = 0;
    }
    struct timespec ts = {.tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL};
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    if (ppoll(&pfd, 1, &ts, NULL) > 0) {
        drain(s);
    }
}

/* Losses per window and over the run, from the per-seq copies. */
static void
count_losses(struct sender *s, uint64_t *max_run)
{
    uint64_t run = 0;
    *max_run = 0;
    for (size_t k = 0; k < s->n_win; k++) {
        struct window *w = &s->win[k];
        uint64_t end = k + 1 < s->n_win ? s->win[k + 1].first_seq : s->seq;
        uint64_t wrun = 0;
        for (uint64_t q = w->first_seq; q < end; q++) {
            if (s->got[q]) {
                run = wrun = 0;
                continue;
            }
            w->lost++;
            run++;
            wrun++;
            if (run > *max_run) {
                *max_run = run;
            }
            if (wrun > w->max_loss_run) {
                w->max_loss_run = wrun;
            }
        }
    }
}

static void
report(struct sender *s)
{
    uint64_t max_run;
    int64_t end = s->last_send_ns > s->last_arrival_ns ? s->last_send_ns : s->last_arrival_ns;
    if (s->seq) {
        gap_record(s, s->last_arrival_ns, end);    /* an outage at the end */
    }
    count_losses(s, &max_run);
    printf("{\"rate\":%" PRIu64 ",\"size\":%" PRIu64 ",\"duration_ms\":%.3f,"
           "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64 ","
           "\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"max_gap_ms\":%.3f,"
           "\"max_loss_run\":%" PRIu64 ",\"max_loss_run_ms\":%.3f,"
           "\"send_errors\":%" PRIu64 ",\"stray\":%" PRIu64 ",\"rtt_ms\":",
           s->rate, s->size, s->seq ? ms(s->last_send_ns - s->start_ns) : 0.0,
           s->seq, s->received, s->seq - s->received, s->duplicated, s->reordered,
           ms(s->max_gap_ns), max_run, (double) max_run * 1000.0 / (double) s->rate,
           s->send_errors, s->stray);
    if (s->received) {
        printf("{\"min\":%.3f,\"avg\":%.3f,\"max\":%.3f}", ms(s->rtt_min),
               ms(s->rtt_sum / (int64_t) s->received), ms(s->rtt_max));
    } else {
        printf("null");
    }
    printf(",\"windows\":[");
    for (size_t k = 0; k < s->n_win; k++) {
        struct window *w = &s->win[k];
        uint64_t end_seq = k + 1 < s->n_win ? s->win[k + 1].first_seq : s->seq;
        printf("%s{\"from_ms\":%.3f,\"first_seq\":%" PRIu64 ",\"sent\":%" PRIu64 ","
               "\"received\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64 ","
               "\"reordered\":%" PRIu64 ",\"max_gap_ms\":%.3f,\"max_loss_run\":%" PRIu64 "}",
               k ? "," : "", ms(w->from_ns - s->start_ns), w->first_seq,
               end_seq - w->first_seq, w->received, w->lost, w->duplicated, w->reordered,
               ms(w->max_gap_ns), w->max_loss_run);
    }
    printf("]}\n");
    fflush(stdout);
}

static int
run_send(struct sender *s)
{
    s->fd = socket(s->to.ss_family, SOCK_DGRAM, 0);
    if (s->fd < 0 || (s->from_len && bind(s->fd, (struct sockaddr *) &s->from,
                                          s->from_len) < 0)) {
        perror("udpprobe: send");
        return 1;
    }
    int rcvbuf = 4 << 20;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (getrandom(&s->run, sizeof s->run, 0) != sizeof s->run) {
        s->run = (uint32_t) getpid() ^ (uint32_t) mono_ns();
    }
    s->interval_ns = 1000000000LL / (int64_t) s->rate;
    char where[INET6_ADDRSTRLEN + 16];
    format_addr(&s->to, where, sizeof where);
    fprintf(stderr, "udpprobe: sending to %s at %" PRIu64 "/s\n", where, s->rate);
    s->start_ns = mono_ns();
    s->last_arrival_ns = s->start_ns;   /* the receive timeline starts here */
    window_open(s, s->start_ns);
    int64_t next = s->start_ns;
    for (;;) {
        int64_t now = mono_ns();
        if (stop_requested || (s->count && s->seq >= s->count)
            || (s->duration_ns && now - s->start_ns >= s->duration_ns)) {
            break;
        }
        if (now < next) {
            int64_t until = next;
            if (s->duration_ns && s->start_ns + s->duration_ns < until) {
                until = s->start_ns + s->duration_ns;
            }
            wait_until(s, until);
            continue;
        }
        take_marks(s, now);
        send_one(s, now);
        next += s->interval_ns;
        if (now - next > PROBE_MAX_LAG_NS) {
            next = now;
        }
        drain(s);
    }
    int64_t linger_end = mono_ns() + s->linger_ns;
    while (s->received < s->seq && mono_ns() < linger_end) {
        wait_until(s, linger_end);
    }
    drain(s);
    report(s);
    close(s->fd);
    free(s->got);
    free(s->win);
    return 0;
}

static int
cmd_send(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"from", required_argument, NULL, 'f'},
        {"linger", required_argument, NULL, 'l'},
        {"mark-at", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    struct sender s = {.rate = 1000, .size = 64, .linger_ns = 500000000LL};
    const char *to = NULL, *from = NULL;
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            to = optarg;
            break;
        case 'r':
            if (!parse_u64(optarg, 1, 1000000, &s.rate)) {
                return usage_error("--rate must be 1 to 1000000 per second, not '%s'", optarg);
            }
            break;
        case 'd': {
            char *end;
            double d = strtod(optarg, &end);
            if (*end || !(d > 0 && d < 1e6)) {
                return usage_error("--duration must be a positive number of seconds, not '%s'",
                             optarg);
            }
            s.duration_ns = (int64_t) (d * 1e9);
            break;
        }
        case 'c':
            if (!parse_u64(optarg, 1, UINT64_MAX >> 8, &s.count)) {
                return usage_error("--count must be a positive integer, not '%s'", optarg);
            }
            break;
        case 's':
            if (!parse_u64(optarg, PROBE_HDR, PROBE_MAX_SIZE, &s.size)) {
                return usage_error("--size must be 24 to 65507 bytes, not '%s'", optarg);
            }
            break;
        case 'f':
            from = optarg;
            break;
        case 'l':
            if (!parse_u64(optarg, 0, 3600000, &v)) {
                return usage_error("--linger must be 0 to 3600000 ms, not '%s'", optarg);
            }
            s.linger_ns = (int64_t) v * 1000000LL;
            break;
        case 'm':
            if (s.n_mark_at == PROBE_MAX_LIST || !parse_u64(optarg, 0, UINT64_MAX, &v)) {
                return usage_error("--mark-at takes a sequence number (at most 64), "
                                   "not '%s'", optarg);
            }
            s.mark_at[s.n_mark_at++] = v;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (!to || !parse_addr(to, false, &s.to, &s.to_len)) {
        return usage_error("--to IP:PORT is required, not '%s'", to ? to : "");
    }
    if (from && (!parse_addr(from, true, &s.from, &s.from_len)
                 || s.from.ss_family != s.to.ss_family)) {
        return usage_error("--from must be an address of --to's family, not '%s'", from);
    }
    install_signals(true);
    return run_send(&s);
}

/* ---- echo ------------------------------------------------------------------ */

struct range {
    uint64_t first, last;
};

static bool
in_ranges(const struct range *r, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++) {
        if (seq >= r[i].first && seq <= r[i].last) {
            return true;
        }
    }
    return false;
}

static int
cmd_echo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"drop", required_argument, NULL, 'x'},
        {"dup", required_argument, NULL, 'u'},
        {"hold", required_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct range drop[PROBE_MAX_LIST], dup[PROBE_MAX_LIST], hold[PROBE_MAX_LIST];
    size_t n_drop = 0, n_dup = 0, n_hold = 0;
    const char *listen_at = "0.0.0.0:7001";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'l':
            listen_at = optarg;
            break;
        case 'x': {
            char first[32];
            const char *dash = strchr(optarg, '-');
            size_t fl = dash ? (size_t) (dash - optarg) : 0;
            if (n_drop == PROBE_MAX_LIST || !dash || fl == 0 || fl >= sizeof first) {
                return usage_error("--drop takes FIRST-LAST (at most 64), not '%s'", optarg);
            }
            memcpy(first, optarg, fl);
            first[fl] = '\0';
            if (!parse_u64(first, 0, UINT64_MAX, &drop[n_drop].first)
                || !parse_u64(dash + 1, drop[n_drop].first, UINT64_MAX, &drop[n_drop].last)) {
                return usage_error("--drop takes FIRST-LAST with FIRST <= LAST, not '%s'", optarg);
            }
            n_drop++;
            break;
        }
        case 'u':
        case 'h': {
            struct range *r = c == 'u' ? dup : hold;
            size_t *n = c == 'u' ? &n_dup : &n_hold;
            if (*n == PROBE_MAX_LIST || !parse_u64(optarg, 0, UINT64_MAX, &v)) {
                return usage_error("--dup and --hold take a sequence number (at most 64), "
                             "not '%s'", optarg);
            }
            r[(*n)++] = (struct range) {v, v};
            break;
        }
        default:
            return usage();
        }
    }
    if (optind != argc) {
        return usage_error("unexpected argument '%s'", argv[optind]);
    }
    struct sockaddr_storage la;
    socklen_t ll;
    if (!parse_addr(listen_at, false, &la, &ll)) {
        return usage_error("--listen takes IP:PORT, not '%s'", listen_at);
    }
    install_signals(false);
    int fd = socket(la.ss_family, SOCK_DGRAM, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || bind(fd, (struct sockaddr *) &la, ll) < 0 || getsockname(fd, (struct sockaddr *) &la, &ll) < 0) {
        perror("udpprobe: echo");
        return 1;
    }
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    char where[INET6_ADDRSTRLEN + 16];
    format_addr(&la, where, sizeof where);
    fprintf(stderr, "udpprobe: echo listening on %s\n", where);

    static unsigned char buf[PROBE_MAX_SIZE], held[PROBE_MAX_SIZE];
    struct sockaddr_storage held_from;
    socklen_t held_len = 0;
    size_t held_n = 0;
    uint64_t echoed = 0, dropped = 0, duplicated = 0, n_held = 0, ignored = 0;
    while (!stop_requested) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &fl);
        if (n < 0) {
            continue;                   /* EINTR: the loop checks the flag */
        }
        struct probe_hdr h;
        if (!hdr_get(buf, (size_t) n, &h)) {
            ignored++;
            continue;
        }
        if (in_ranges(drop, n_drop, h.seq)) {
            dropped++;
            continue;
        }
        if (!held_n && in_ranges(hold, n_hold, h.seq)) {
            memcpy(held, buf, (size_t) n);
            held_n = (size_t) n;
            held_from = from;
            held_len = fl;
            n_held++;
            continue;
        }
        int copies = in_ranges(dup, n_dup, h.seq) ? 2 : 1;
        for (int i = 0; i < copies; i++) {
            if (sendto(fd, buf, (size_t) n, 0, (struct sockaddr *) &from, fl) >= 0) {
                echoed++;
            }
        }
        duplicated += (uint64_t) copies - 1;
        if (held_n) {
            if (sendto(fd, held, held_n, 0, (struct sockaddr *) &held_from, held_len) >= 0) {
                echoed++;
            }
            held_n = 0;
        }
    }
    printf("{\"echoed\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"duplicated\":%" PRIu64 ","
           "\"held\":%" PRIu64 ",\"ignored\":%" PRIu64 "}\n",
           echoed, dropped, duplicated, n_held, ignored);
    fflush(stdout);
    close(fd);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "send")) {
        return cmd_send(argc - 1, argv + 1);
    }
    if (argc >= 2 && !strcmp(argv[1], "echo")) {
        return cmd_echo(argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc >= 2) {
        return usage_error("unknown command '%s'", argv[1]);
    }
    return usage();
}
