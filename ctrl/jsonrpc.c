/* jsonrpc.c: JSON-RPC 1.0 stream framing, messages and connection.
 *
 * See jsonrpc.h for the layering.  The splitter keeps one growing buffer;
 * scanning resumes where it stopped, so feeding a message one byte at a
 * time costs O(n) overall.  Between objects only JSON whitespace may appear.
 *
 * Connection states (jsonrpc.status is the sticky error, 0 while healthy):
 *
 *     open() --> CONNECTING --(stream_connect() == 0)--> CONNECTED
 *                    |                                      |
 *                    +------(error: status=errno)-----------+--> broken
 *
 * CONNECTING covers the TLS handshake of an ssl: target (ctrl/stream.h).
 * Only jsonrpc_run() moves CONNECTING to CONNECTED; send() queues even while
 * connecting.  Input is read until EAGAIN, in STREAM_RECV_MIN chunks. */
#include "ctrl/jsonrpc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vlog.h"
#include "ctrl/stream.h"

/* ---- splitter ---- */

void
jsonrpc_splitter_init(struct jsonrpc_splitter *s)
{
    memset(s, 0, sizeof *s);
    s->max_msg = JSONRPC_MAX_MSG;
}

void
jsonrpc_splitter_uninit(struct jsonrpc_splitter *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = s->scan = 0;
}

/* Makes room for 'n' more bytes after 'len' in '*bufp' (capacity '*capp',
 * doubled as needed).  Returns 0 or ENOMEM (buffer unchanged). */
static int
buf_reserve(char **bufp, size_t *capp, size_t len, size_t n)
{
    if (n <= *capp - len) {
        return 0;
    }
    size_t cap = *capp ? *capp : 4096;
    while (cap - len < n) {
        cap *= 2;
    }
    char *p = realloc(*bufp, cap);
    if (!p) {
        return ENOMEM;
    }
    *bufp = p;
    *capp = cap;
    return 0;
}

int
jsonrpc_splitter_feed(struct jsonrpc_splitter *s, const void *data, size_t n)
{
    if (buf_reserve(&s->buf, &s->cap, s->len, n)) {
        return ENOMEM;
    }
    if (n) {
        memcpy(s->buf + s->len, data, n);
        s->len += n;
    }
    return 0;
}

static void
splitter_consume(struct jsonrpc_splitter *s, size_t n)
{
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
    s->scan = 0;
    s->start = 0;
}

int
jsonrpc_splitter_next(struct jsonrpc_splitter *s, json_t **jsonp,
                      const char **errp)
{
    *jsonp = NULL;
    *errp = NULL;
    for (; s->scan < s->len; s->scan++) {
        unsigned char c = s->buf[s->scan];
        if (s->depth == 0) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                continue;
            }
            if (c != '{') {
                *errp = "top-level JSON value is not an object";
                return EPROTO;
            }
            splitter_consume(s, s->scan);   /* Drop leading whitespace. */
            s->depth = 1;
            s->arrays = 0;
            continue;
        }
        if (s->scan + 1 > s->max_msg) {
            *errp = "message exceeds size limit";
            return EPROTO;
        }
        if (s->in_string) {
            if (s->escape) {
                s->escape = false;
            } else if (c == '\\') {
                s->escape = true;
            } else if (c == '"') {
                s->in_string = false;
            }
            continue;
        }
        if (c == '"') {
            s->in_string = true;
        } else if (c == '{' || c == '[') {
            if (s->depth >= JSONRPC_MAX_DEPTH) {
                *errp = "message nesting exceeds depth limit";
                return EPROTO;
            }
            uint64_t bit = UINT64_C(1) << s->depth++;
            s->arrays = c == '[' ? s->arrays | bit : s->arrays & ~bit;
        } else if (c == '}' || c == ']') {
            bool is_array = s->arrays >> (s->depth - 1) & 1;
            if (is_array != (c == ']')) {
                *errp = "mismatched brackets";
                return EPROTO;
            }
            if (--s->depth == 0) {
                size_t n = s->scan + 1;
                json_error_t jerr;
                json_t *j = json_loadb(s->buf, n, JSON_REJECT_DUPLICATES,
                                       &jerr);
                splitter_consume(s, n);
                if (!j) {
                    *errp = "invalid JSON";
                    return EPROTO;
                }
                *jsonp = j;
                return 0;
            }
        }
    }
    if (s->depth == 0) {
        s->len = s->scan = 0;           /* Only whitespace buffered. */
    }
    return EAGAIN;
}

/* ---- messages ---- */

const char *
jsonrpc_msg_type_name(enum jsonrpc_msg_type t)
{
    switch (t) {
    case JSONRPC_REQUEST: return "request";
    case JSONRPC_NOTIFY: return "notification";
    case JSONRPC_REPLY: return "reply";
    case JSONRPC_ERROR: return "error";
    }
    return "?";
}

static struct jsonrpc_msg *
msg_create(enum jsonrpc_msg_type type, const char *method, json_t *params,
           json_t *result, json_t *error, json_t *id)
{
    struct jsonrpc_msg *m = calloc(1, sizeof *m);
    char *meth = method ? strdup(method) : NULL;
    if (!m || (method && !meth)
        || (type <= JSONRPC_NOTIFY && !params)
        || (type == JSONRPC_REPLY && !result)
        || (type == JSONRPC_ERROR && !error)
        || (type != JSONRPC_NOTIFY && !id)) {
        free(m);
        free(meth);
        json_decref(params);
        json_decref(result);
        json_decref(error);
        json_decref(id);
        return NULL;
    }
    m->type = type;
    m->method = meth;
    m->params = params;
    m->result = result;
    m->error = error;
    m->id = id;
    return m;
}

struct jsonrpc_msg *
jsonrpc_msg_create_request(const char *method, json_t *params, json_t *id)
{
    return msg_create(JSONRPC_REQUEST, method, params, NULL, NULL, id);
}

struct jsonrpc_msg *
jsonrpc_msg_create_notify(const char *method, json_t *params)
{
    return msg_create(JSONRPC_NOTIFY, method, params, NULL, NULL, NULL);
}

struct jsonrpc_msg *
jsonrpc_msg_create_reply(json_t *result, json_t *id)
{
    return msg_create(JSONRPC_REPLY, NULL, NULL, result, NULL, id);
}

struct jsonrpc_msg *
jsonrpc_msg_create_error(json_t *error, json_t *id)
{
    return msg_create(JSONRPC_ERROR, NULL, NULL, NULL, error,
                      id ? id : json_null());
}

void
jsonrpc_msg_destroy(struct jsonrpc_msg *m)
{
    if (m) {
        free(m->method);
        json_decref(m->params);
        json_decref(m->result);
        json_decref(m->error);
        json_decref(m->id);
        free(m);
    }
}

int
jsonrpc_msg_from_json(const json_t *json, struct jsonrpc_msg **msgp,
                      const char **errp)
{
    *msgp = NULL;
    *errp = NULL;
    if (!json_is_object(json)) {
        *errp = "message is not a JSON object";
        return EPROTO;
    }
    json_t *method = json_object_get(json, "method");
    json_t *params = json_object_get(json, "params");
    json_t *result = json_object_get(json, "result");
    json_t *error = json_object_get(json, "error");
    json_t *id = json_object_get(json, "id");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) json, key, v) {
        if (strcmp(key, "method") && strcmp(key, "params")
            && strcmp(key, "result") && strcmp(key, "error")
            && strcmp(key, "id")) {
            *errp = "message has an unknown member";
            return EPROTO;
        }
    }
    if (!id) {
        *errp = "message lacks \"id\"";
        return EPROTO;
    }
    enum jsonrpc_msg_type type;
    if (method) {
        if (!json_is_string(method)) {
            *errp = "\"method\" is not a string";
            return EPROTO;
        }
        if (!json_is_array(params)) {
            *errp = "\"params\" is missing or not an array";
            return EPROTO;
        }
        if (result || error) {
            *errp = "request has \"result\" or \"error\"";
            return EPROTO;
        }
        type = json_is_null(id) ? JSONRPC_NOTIFY : JSONRPC_REQUEST;
    } else {
        /* ovsdb-server omits "result" from error replies. */
        if (params || (!result && !error)) {
            *errp = "reply needs \"result\" or \"error\" and no \"params\"";
            return EPROTO;
        }
        if (error && !json_is_null(error)) {
            type = JSONRPC_ERROR;
        } else if (!result) {
            *errp = "reply lacks \"result\"";
            return EPROTO;
        } else if (json_is_null(id)) {
            *errp = "reply has a null \"id\"";
            return EPROTO;
        } else {
            type = JSONRPC_REPLY;
        }
    }
    struct jsonrpc_msg *m = msg_create(
        type, method ? json_string_value(method) : NULL,
        type <= JSONRPC_NOTIFY ? json_incref(params) : NULL,
        type == JSONRPC_REPLY ? json_incref(result) : NULL,
        type == JSONRPC_ERROR ? json_incref(error) : NULL,
        type == JSONRPC_NOTIFY ? NULL : json_incref(id));
    if (!m) {
        *errp = "out of memory";
        return ENOMEM;
    }
    *msgp = m;
    return 0;
}

json_t *
jsonrpc_msg_to_json(const struct jsonrpc_msg *m)
{
    switch (m->type) {
    case JSONRPC_REQUEST:
    case JSONRPC_NOTIFY:
        return json_pack("{s:s, s:O, s:O}", "method", m->method,
                         "params", m->params,
                         "id", m->id ? m->id : json_null());
    case JSONRPC_REPLY:
        return json_pack("{s:O, s:n, s:O}", "result", m->result,
                         "error", "id", m->id);
    case JSONRPC_ERROR:
        return json_pack("{s:n, s:O, s:O}", "result", "error", m->error,
                         "id", m->id);
    }
    return NULL;
}

/* ---- connection ---- */

struct jsonrpc {
    struct stream *stream;
    bool connected;
    int status;                 /* Sticky error, 0 while healthy. */
    char *out;                  /* Queued output bytes. */
    size_t out_len, out_cap;
    struct jsonrpc_splitter in;
};

int
jsonrpc_open(const char *target, struct jsonrpc **rpcp)
{
    *rpcp = NULL;
    struct stream *stream;
    int err = stream_open(target, &stream);
    if (err) {
        return err;
    }
    struct jsonrpc *rpc = calloc(1, sizeof *rpc);
    if (!rpc) {
        stream_close(stream);
        return ENOMEM;
    }
    rpc->stream = stream;
    rpc->connected = !stream_connect(stream);   /* a local socket may be */
    jsonrpc_splitter_init(&rpc->in);
    *rpcp = rpc;
    return 0;
}

void
jsonrpc_close(struct jsonrpc *rpc)
{
    if (rpc) {
        stream_close(rpc->stream);
        free(rpc->out);
        jsonrpc_splitter_uninit(&rpc->in);
        free(rpc);
    }
}

const char *jsonrpc_name(const struct jsonrpc *rpc) { return stream_name(rpc->stream); }
int jsonrpc_fd(const struct jsonrpc *rpc) { return stream_fd(rpc->stream); }
bool jsonrpc_is_connected(const struct jsonrpc *rpc) { return rpc->connected; }
size_t jsonrpc_backlog(const struct jsonrpc *rpc) { return rpc->out_len; }

short
jsonrpc_events(const struct jsonrpc *rpc)
{
    return stream_events(rpc->stream, POLLIN | (rpc->out_len ? POLLOUT : 0));
}

const char *
jsonrpc_error(const struct jsonrpc *rpc)
{
    const char *why = stream_error(rpc->stream);
    return why[0] || !rpc->status ? why : stream_strerror(rpc->status);
}

const char *const *
jsonrpc_peer_names(const struct jsonrpc *rpc, size_t *n)
{
    return stream_peer_names(rpc->stream, n);
}

bool
jsonrpc_is_tls(const struct jsonrpc *rpc)
{
    return stream_is_tls(rpc->stream);
}

int
jsonrpc_run(struct jsonrpc *rpc)
{
    if (rpc->status) {
        return rpc->status;
    }
    if (!rpc->connected) {
        int err = stream_connect(rpc->stream);
        if (err == EAGAIN) {
            return 0;
        }
        if (err) {
            return rpc->status = err;
        }
        rpc->connected = true;
    }
    while (rpc->out_len) {
        ssize_t n = stream_send(rpc->stream, rpc->out, rpc->out_len);
        if (n == -EAGAIN) {
            break;
        }
        if (n < 0) {
            return rpc->status = (int) -n;
        }
        memmove(rpc->out, rpc->out + n, rpc->out_len - (size_t) n);
        rpc->out_len -= (size_t) n;
    }
    return 0;
}

int
jsonrpc_send(struct jsonrpc *rpc, struct jsonrpc_msg *msg)
{
    if (rpc->status) {
        jsonrpc_msg_destroy(msg);
        return rpc->status;
    }
    json_t *j = jsonrpc_msg_to_json(msg);
    jsonrpc_msg_destroy(msg);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        return ENOMEM;
    }
    size_t n = strlen(s);
    if (buf_reserve(&rpc->out, &rpc->out_cap, rpc->out_len, n)) {
        free(s);
        return ENOMEM;
    }
    memcpy(rpc->out + rpc->out_len, s, n);
    rpc->out_len += n;
    free(s);
    return jsonrpc_run(rpc);
}

int
jsonrpc_recv(struct jsonrpc *rpc, struct jsonrpc_msg **msgp)
{
    *msgp = NULL;
    if (rpc->status) {
        return rpc->status;
    }
    if (!rpc->connected) {
        return EAGAIN;
    }
    for (;;) {
        json_t *j;
        const char *why;
        int err = jsonrpc_splitter_next(&rpc->in, &j, &why);
        if (!err) {
            err = jsonrpc_msg_from_json(j, msgp, &why);
            json_decref(j);
            if (!err) {
                return 0;
            }
        }
        if (err != EAGAIN) {
            vlog(VLOG_WARN, "jsonrpc", "%s: closing: %s", jsonrpc_name(rpc), why);
            return rpc->status = err;
        }
        char buf[STREAM_RECV_MIN];
        ssize_t n = stream_recv(rpc->stream, buf, sizeof buf);
        if (n == -EAGAIN) {
            return EAGAIN;
        }
        if (n < 0) {
            return rpc->status = (int) -n;
        }
        if (n == 0) {
            return rpc->status = ECONNRESET;
        }
        err = jsonrpc_splitter_feed(&rpc->in, buf, (size_t) n);
        if (err) {
            return rpc->status = err;
        }
    }
}
