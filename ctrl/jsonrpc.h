/* jsonrpc.h: JSON-RPC 1.0 over a byte stream (RFC 7047 section 4), the
 * transport of skyvisor's OVSDB client (ctrl/ovsdb.h).
 *
 * Three layers, each usable alone:
 *
 *   splitter   bytes -> complete top-level JSON texts.  The stream carries
 *              JSON objects concatenated with no delimiter, so the splitter
 *              scans incrementally (string, escape and nesting state, with
 *              bracket matching, survive chunk boundaries) and hands each
 *              complete object to jansson
 *              (JSON_REJECT_DUPLICATES).  A top-level value that is not an
 *              object, an object larger than JSONRPC_MAX_MSG or deeper than
 *              JSONRPC_MAX_DEPTH is a protocol error (EPROTO): the stream
 *              cannot be resynchronised, the caller must close it.
 *   message    json_t <-> struct jsonrpc_msg with shape validation:
 *                request  {"method": str, "params": array, "id": non-null}
 *                notify   {"method": str, "params": array, "id": null}
 *                reply    {"result": any, "error": null, "id": non-null}
 *                error    {"error": non-null, "id": any} ("result" null
 *                         or absent: ovsdb-server omits it)
 *   connection a non-blocking stream (ctrl/stream.h: "unix:PATH",
 *              "tcp:IP:PORT" or "ssl:IP:PORT") with an output queue; the
 *              owner polls jsonrpc_fd() for jsonrpc_events() and calls
 *              jsonrpc_run() / jsonrpc_recv().
 *
 * Invariants: a struct jsonrpc_msg owns every json_t and string it points
 * to; jsonrpc_send() always consumes its message. */
#ifndef SKYVISOR_CTRL_JSONRPC_H
#define SKYVISOR_CTRL_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONRPC_MAX_MSG   (64u * 1024 * 1024)
#define JSONRPC_MAX_DEPTH 64

/* ---- splitter ---- */
struct jsonrpc_splitter {
    char *buf;          /* Unconsumed bytes; buf[0..scan) already scanned. */
    size_t len, cap;
    size_t scan;        /* Scan position within buf. */
    size_t start;       /* Offset of the current object's '{' (if depth>0). */
    int depth;          /* 0..JSONRPC_MAX_DEPTH. */
    uint64_t arrays;    /* Bit d-1 set: the container at depth d is '['. */
    bool in_string, escape;
    size_t max_msg;     /* JSONRPC_MAX_MSG unless a test lowers it. */
};

void jsonrpc_splitter_init(struct jsonrpc_splitter *);
void jsonrpc_splitter_uninit(struct jsonrpc_splitter *);
/* Appends 'n' bytes (copied).  Returns 0 or ENOMEM. */
int jsonrpc_splitter_feed(struct jsonrpc_splitter *, const void *data,
                          size_t n);
/* Extracts the next complete object into '*jsonp' (caller owns the new
 * reference).  Returns 0, EAGAIN when more bytes are needed, or EPROTO
 * (garbage, oversize, too deep, invalid JSON: '*errp' then points to a
 * static description). */
int jsonrpc_splitter_next(struct jsonrpc_splitter *, json_t **jsonp,
                          const char **errp);

/* ---- messages ---- */
enum jsonrpc_msg_type {
    JSONRPC_REQUEST,
    JSONRPC_NOTIFY,
    JSONRPC_REPLY,
    JSONRPC_ERROR,
};

struct jsonrpc_msg {
    enum jsonrpc_msg_type type;
    char *method;       /* REQUEST, NOTIFY. */
    json_t *params;     /* REQUEST, NOTIFY: an array. */
    json_t *result;     /* REPLY. */
    json_t *error;      /* ERROR. */
    json_t *id;         /* REQUEST, REPLY, ERROR (JSON null possible in
                           ERROR). */
};

const char *jsonrpc_msg_type_name(enum jsonrpc_msg_type);

/* Constructors consume their json_t arguments (always, even on failure)
 * and return a heap message owned by the caller, or NULL on ENOMEM. */
struct jsonrpc_msg *jsonrpc_msg_create_request(const char *method,
                                               json_t *params, json_t *id);
struct jsonrpc_msg *jsonrpc_msg_create_notify(const char *method,
                                              json_t *params);
struct jsonrpc_msg *jsonrpc_msg_create_reply(json_t *result, json_t *id);
struct jsonrpc_msg *jsonrpc_msg_create_error(json_t *error, json_t *id);
void jsonrpc_msg_destroy(struct jsonrpc_msg *);

/* Validates 'json' (borrowed) and returns a new message in '*msgp' (caller
 * owns).  Returns 0 or EPROTO with '*errp' set to a static reason. */
int jsonrpc_msg_from_json(const json_t *json, struct jsonrpc_msg **msgp,
                          const char **errp);
/* Returns a new reference (caller owns), or NULL on ENOMEM. */
json_t *jsonrpc_msg_to_json(const struct jsonrpc_msg *);

/* ---- connection ---- */
struct jsonrpc;

/* Starts a non-blocking connect to 'target' ("unix:PATH", "tcp:IP:PORT",
 * "ssl:IP:PORT").  Returns 0 with '*rpcp' (caller owns, jsonrpc_close()) or
 * a positive errno (stream_open()'s). */
int jsonrpc_open(const char *target, struct jsonrpc **rpcp);
void jsonrpc_close(struct jsonrpc *);
const char *jsonrpc_name(const struct jsonrpc *);
int jsonrpc_fd(const struct jsonrpc *);
/* What to poll for: reading always, writing while output is queued, as
 * the stream translates it (connecting, TLS). */
short jsonrpc_events(const struct jsonrpc *);
/* Connected: the connect (and for ssl: the TLS handshake) is done. */
bool jsonrpc_is_connected(const struct jsonrpc *);
bool jsonrpc_is_tls(const struct jsonrpc *);
/* The TLS peer's certificate names once connected (stream_peer_names()),
 * NULL for a plain connection; borrowed. */
const char *const *jsonrpc_peer_names(const struct jsonrpc *, size_t *n);
/* Why the connection broke ("" while it has not): the stream's reason,
 * or the sticky errno's text.  Borrowed. */
const char *jsonrpc_error(const struct jsonrpc *);
/* Completes the connect and flushes output.  Returns 0, or the errno that
 * broke the connection (sticky: the owner must close it). */
int jsonrpc_run(struct jsonrpc *);
/* Queues 'msg' (always consumed).  Returns 0 or the sticky error. */
int jsonrpc_send(struct jsonrpc *, struct jsonrpc_msg *msg);
/* Receives one message into '*msgp' (caller owns).  Returns 0, EAGAIN,
 * ECONNRESET (peer closed), EPROTO (malformed stream or message: logged) or
 * another errno.  Any return other than 0/EAGAIN is sticky. */
int jsonrpc_recv(struct jsonrpc *, struct jsonrpc_msg **msgp);
size_t jsonrpc_backlog(const struct jsonrpc *);

#endif
