/* stream.c: targets, sockets and the stream state machine of stream.h;
 * the TLS session itself is in stream_tls.c.
 *
 * Which function does which transition:
 *   stream_open()     -> CONNECTING (or FAILED at once: the errno returned)
 *   stream_accept()   -> HANDSHAKE (ssl) or OPEN (plain)
 *   stream_connect()  CONNECTING -> HANDSHAKE / OPEN; HANDSHAKE -> OPEN;
 *                     either -> FAILED
 *   fail()            any -> FAILED (from connect, recv and send)
 *
 * A connect in progress is finished when the socket polls writable and
 * SO_ERROR is 0; stream_connect() polls it itself (with no wait), so it
 * may be called on any wakeup. */
#include "ctrl/stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctrl/stream_tls.h"

enum stream_state { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_FAILED };

struct stream {
    char *name;
    int fd;
    enum stream_state state;
    bool tls_wanted;                /* ssl: */
    struct stream_tls *tls;         /* from HANDSHAKE on, for ssl: */
    int error;                      /* FAILED: the sticky errno */
    char why[256];                  /* FAILED: the reason */
};

_Static_assert(POLLIN == 0x001 && POLLOUT == 0x004,
               "poll and epoll event bits coincide");

int
stream_parse_target(const char *target, struct sockaddr_storage *ss,
                    socklen_t *len, bool *tls)
{
    memset(ss, 0, sizeof *ss);
    bool is_tls = !strncmp(target, "ssl:", 4);
    if (tls) {
        *tls = is_tls;
    }
    if (!strncmp(target, "unix:", 5)) {
        struct sockaddr_un *un = (struct sockaddr_un *) ss;
        size_t n = strlen(target + 5);
        if (n >= sizeof un->sun_path) {
            return ENAMETOOLONG;
        }
        if (!n) {
            return EINVAL;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, target + 5, n + 1);
        *len = (socklen_t) sizeof *un;
        return 0;
    }
    if (!is_tls && strncmp(target, "tcp:", 4)) {
        return EAFNOSUPPORT;
    }
    char ip[16];
    unsigned int port;
    char extra;
    struct sockaddr_in *in = (struct sockaddr_in *) ss;
    if (sscanf(target + 4, "%15[0-9.]:%5u%c", ip, &port, &extra) != 2
        || port > 65535 || inet_pton(AF_INET, ip, &in->sin_addr) != 1) {
        return EINVAL;
    }
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t) port);
    *len = (socklen_t) sizeof *in;
    return 0;
}

/* A stream named 'name' on socket 'fd' (always consumed: closed on
 * failure), starting in 'state'; for TLS the session is made now, so the
 * stream keeps the configuration of the moment it was made. */
static int
stream_create(const char *name, int fd, bool tls, bool server,
              enum stream_state state, struct stream **sp)
{
    struct stream *s = calloc(1, sizeof *s);
    int error = !s || !(s->name = strdup(name)) ? ENOMEM
                : tls ? stream_tls_create(fd, server, &s->tls) : 0;
    if (error) {
        if (s) {
            free(s->name);
            free(s);
        }
        close(fd);
        return error;
    }
    s->fd = fd;
    s->tls_wanted = tls;
    s->state = state;
    *sp = s;
    return 0;
}

static int
fail(struct stream *s, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Any state -> FAILED, keeping the first reason. */
static int
fail(struct stream *s, int error, const char *fmt, ...)
{
    if (s->state != ST_FAILED) {
        s->state = ST_FAILED;
        s->error = error;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->why, sizeof s->why, fmt, ap);
        va_end(ap);
    }
    return s->error;
}

int
stream_open(const char *target, struct stream **sp)
{
    *sp = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    bool tls;
    int error = stream_parse_target(target, &ss, &len, &tls);
    if (error) {
        return error;
    }
    if (tls && !stream_tls_configured()) {
        return ENOKEY;              /* before bothering the peer */
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    if (connect(fd, (struct sockaddr *) &ss, len) && errno != EINPROGRESS
        && errno != EAGAIN) {
        error = errno;
        close(fd);
        return error;
    }
    return stream_create(target, fd, tls, false, ST_CONNECTING, sp);
}

int
stream_accept(int fd, bool tls, const char *name, struct stream **sp)
{
    *sp = NULL;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK)) {
        int error = errno;
        close(fd);
        return error;
    }
    return stream_create(name, fd, tls, true, tls ? ST_HANDSHAKE : ST_OPEN, sp);
}

void
stream_close(struct stream *s)
{
    if (s) {
        stream_tls_destroy(s->tls);
        close(s->fd);
        free(s->name);
        free(s);
    }
}

int
stream_connect(struct stream *s)
{
    if (s->state == ST_CONNECTING) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
        if (poll(&pfd, 1, 0) <= 0) {
            return EAGAIN;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
            soerr = soerr ? soerr : errno;
            return fail(s, soerr, "%s", strerror(soerr));
        }
        if (!s->tls) {
            s->state = ST_OPEN;
            return 0;
        }
        s->state = ST_HANDSHAKE;
    }
    if (s->state == ST_HANDSHAKE) {
        char why[sizeof s->why];
        int error = stream_tls_handshake(s->tls, why, sizeof why);
        if (error == EAGAIN) {
            return EAGAIN;
        }
        if (error) {
            return fail(s, error, "%s", why);
        }
        s->state = ST_OPEN;
    }
    return s->state == ST_OPEN ? 0 : s->error;
}

/* One recv() or send(), plain or TLS.  An error other than EAGAIN fails
 * the stream. */
static ssize_t
transfer(struct stream *s, void *buf, size_t n, bool out)
{
    if (s->state != ST_OPEN) {
        return s->state == ST_FAILED ? -s->error : -ENOTCONN;
    }
    ssize_t r;
    if (s->tls) {
        char why[sizeof s->why];
        r = stream_tls_transfer(s->tls, buf, n, out, why, sizeof why);
        if (r < 0 && r != -EAGAIN) {
            fail(s, (int) -r, "%s", why);
        }
        return r;
    }
    do {
        r = out ? send(s->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT)
                : recv(s->fd, buf, n, MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) {
        return r;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return -EAGAIN;
    }
    return -fail(s, errno, "%s", strerror(errno));
}

ssize_t
stream_recv(struct stream *s, void *buf, size_t n)
{
    return transfer(s, buf, n, false);
}

ssize_t
stream_send(struct stream *s, const void *buf, size_t n)
{
    return transfer(s, (void *) buf, n, true);
}

short
stream_events(const struct stream *s, short want)
{
    switch (s->state) {
    case ST_CONNECTING:
        return POLLOUT;
    case ST_HANDSHAKE:
        return stream_tls_events(s->tls, 0);
    case ST_OPEN:
        return s->tls ? stream_tls_events(s->tls, want) : want;
    case ST_FAILED:
        break;
    }
    return POLLIN | POLLOUT;        /* wake the owner so it notices */
}

int stream_fd(const struct stream *s) { return s->fd; }
const char *stream_name(const struct stream *s) { return s->name; }
bool stream_is_tls(const struct stream *s) { return s->tls_wanted; }
bool stream_is_open(const struct stream *s) { return s->state == ST_OPEN; }
const char *stream_error(const struct stream *s) { return s->state == ST_FAILED ? s->why : ""; }

const char *const *
stream_peer_names(const struct stream *s, size_t *n)
{
    if (s->state != ST_OPEN || !s->tls) {
        *n = 0;
        return NULL;
    }
    return stream_tls_peer_names(s->tls, n);
}

const char *
stream_strerror(int error)
{
    return error == ENOKEY ? "TLS is not configured (no private key, certificate "
                             "and CA certificate were given)"
                           : strerror(error);
}
