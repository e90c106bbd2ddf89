/* client.h: skyctl's HTTP client for skyvisor's API, on libcurl.
 *
 * One easy handle per client, reused so the connection stays open; every
 * request sends the bearer token and, for bodies, compact JSON with sorted
 * keys (so a body is the same text every time, as Idempotency-Key replays
 * require).  A request "succeeds" when an HTTP answer arrived, whatever its
 * status: the caller decides; a transport failure (refused connection,
 * timeout, bad URL) is an error with curl's words and the URL. */
#ifndef SKYCTL_CLIENT_H
#define SKYCTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct client;

struct client_resp {
    long status;
    json_t *body;               /* parsed JSON answer or NULL; owned */
    char *text;                 /* the raw answer; owned */
    char *location;             /* Location header or NULL; owned */
};

/* Returns a client for base URL 'url' (e.g. http://127.0.0.1:8080) and
 * bearer 'token' (may be NULL), or NULL on allocation failure.  The caller
 * destroys it. */
struct client *client_create(const char *url, const char *token, long timeout_s);
void client_destroy(struct client *);
/* Verifies an https server against the CA certificates in PEM 'file'
 * instead of the system's.  Returns 0 or ENOMEM. */
int client_set_cacert(struct client *, const char *file);

/* Sends one request.  'body' (may be NULL) is not consumed; 'idem_key' adds
 * an Idempotency-Key header.  Returns 0 with *out filled (the caller calls
 * client_resp_uninit), or EIO with a message in err. */
int client_request(struct client *, const char *method, const char *path,
                   const json_t *body, const char *idem_key, struct client_resp *out,
                   char *err, size_t errlen);
void client_resp_uninit(struct client_resp *);

/* "POST /v1/hosts: 409 Conflict: detail (field: name)" from an error answer
 * (application/problem+json or not) into buf. */
void client_problem(const struct client_resp *, const char *method, const char *path,
                    char *buf, size_t len);

/* GETs every page of collection 'path' into a new array *items (the caller
 * owns it).  Returns 0, or an error with its message. */
int client_list(struct client *, const char *path, json_t **items, char *err,
                size_t errlen);

#endif
