/* client.c: requests to skyvisor's API over libcurl (see client.h).
 *
 * curl_easy_reset() before each request clears the previous one's options
 * but keeps the connection cache, so the handle stays a keep-alive
 * connection.  Answers are collected whole in memory (API answers are a
 * page of at most 1000 objects). */
#include "tools/skyctl/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct client {
    CURL *curl;
    char *url;
    char *auth;                 /* "Authorization: Bearer ..." or NULL */
    char *cacert;               /* CA file for https, or NULL: the system's */
    long timeout_s;
};

struct buf {
    char *p;
    size_t n;
    char *location;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t len = size * nmemb;
    char *np = realloc(b->p, b->n + len + 1);
    if (!np) {
        return 0;
    }
    memcpy(np + b->n, data, len);
    b->p = np;
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t len = size * nmemb;
    if (len > 9 && !strncasecmp(data, "Location:", 9)) {
        const char *v = data + 9;
        size_t vl = len - 9;
        while (vl && (*v == ' ' || *v == '\t')) {
            v++, vl--;
        }
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) {
            vl--;
        }
        free(b->location);
        b->location = strndup(v, vl);
    }
    return len;
}

struct client *
client_create(const char *url, const char *token, long timeout_s)
{
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->curl = curl_easy_init();
    c->url = strdup(url);
    c->timeout_s = timeout_s;
    if (token && *token) {
        size_t n = strlen(token) + 32;
        c->auth = malloc(n);
        if (c->auth) {
            snprintf(c->auth, n, "Authorization: Bearer %s", token);
        }
    }
    if (!c->curl || !c->url || (token && *token && !c->auth)) {
        client_destroy(c);
        return NULL;
    }
    size_t n = strlen(c->url);
    while (n && c->url[n - 1] == '/') {
        c->url[--n] = '\0';
    }
    return c;
}

int
client_set_cacert(struct client *c, const char *file)
{
    free(c->cacert);
    c->cacert = strdup(file);
    return c->cacert ? 0 : ENOMEM;
}

void
client_destroy(struct client *c)
{
    if (c) {
        if (c->curl) {
            curl_easy_cleanup(c->curl);
        }
        free(c->url);
        free(c->auth);
        free(c->cacert);
        free(c);
    }
}

void
client_resp_uninit(struct client_resp *r)
{
    json_decref(r->body);
    free(r->text);
    free(r->location);
    memset(r, 0, sizeof *r);
}

int
client_request(struct client *c, const char *method, const char *path, const json_t *body,
               const char *idem_key, struct client_resp *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t ulen = strlen(c->url) + strlen(path) + 1;
    char *url = malloc(ulen);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char idem[300];
    struct curl_slist *hdrs = NULL;
    struct buf b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    int rc = 0;
    if (!url || (body && !text)) {
        snprintf(err, errlen, "out of memory");
        rc = ENOMEM;
        goto out;
    }
    snprintf(url, ulen, "%s%s", c->url, path);

    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &b);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "skyctl");
    if (c->cacert) {
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cacert);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json, application/problem+json");
    if (c->auth) {
        hdrs = curl_slist_append(hdrs, c->auth);
    }
    if (idem_key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", idem_key);
        hdrs = curl_slist_append(hdrs, idem);
    }
    if (text) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(text));
    }
    /* No "Expect: 100-continue" round trip on larger bodies. */
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "GET") && strcmp(method, "POST")) {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    } else if (!strcmp(method, "POST") && !text) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
    }

    CURLcode cc = curl_easy_perform(c->curl);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach skyvisord at %s: %s", c->url,
                 cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = EIO;
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->text = b.p ? b.p : strdup("");
    b.p = NULL;
    out->location = b.location;
    b.location = NULL;
    if (out->text && out->text[0]) {
        out->body = json_loads(out->text, 0, NULL);
    }
out:
    curl_slist_free_all(hdrs);
    free(b.p);
    free(b.location);
    free(text);
    free(url);
    return rc;
}

void
client_problem(const struct client_resp *r, const char *method, const char *path,
               char *buf, size_t len)
{
    const char *title = json_string_value(json_object_get(r->body, "title"));
    const char *detail = json_string_value(json_object_get(r->body, "detail"));
    const char *field = json_string_value(json_object_get(r->body, "field"));
    if (title || detail) {
        snprintf(buf, len, "%s %s: %ld %s%s%s%s%s%s", method, path, r->status,
                 title ? title : "", title && detail ? ": " : "", detail ? detail : "",
                 field ? " (field: " : "", field ? field : "", field ? ")" : "");
    } else {
        const char *t = r->text ? r->text : "";
        snprintf(buf, len, "%s %s: HTTP %ld%s%.200s", method, path, r->status,
                 *t ? ": " : "", t);
    }
}

int
client_list(struct client *c, const char *path, json_t **items, char *err, size_t errlen)
{
    json_t *all = json_array();
    char *cursor = NULL;
    *items = NULL;
    if (!all) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    for (;;) {
        char page[1024];
        if (cursor) {
            snprintf(page, sizeof page, "%s?limit=1000&cursor=%s", path, cursor);
        } else {
            snprintf(page, sizeof page, "%s?limit=1000", path);
        }
        free(cursor);
        cursor = NULL;
        struct client_resp r;
        int rc = client_request(c, "GET", page, NULL, NULL, &r, err, errlen);
        if (rc) {
            json_decref(all);
            return rc;
        }
        json_t *got = json_object_get(r.body, "items");
        if (r.status != 200 || !json_is_array(got)) {
            if (r.status == 200) {
                snprintf(err, errlen, "GET %s: the answer is not a list", path);
            } else {
                client_problem(&r, "GET", path, err, errlen);
            }
            long status = r.status;
            client_resp_uninit(&r);
            json_decref(all);
            return status == 404 ? ENOENT : EPROTO;
        }
        json_array_extend(all, got);
        const char *next = json_string_value(json_object_get(r.body, "next_cursor"));
        if (next && *next) {
            cursor = strdup(next);
        }
        client_resp_uninit(&r);
        if (!cursor) {
            break;
        }
    }
    *items = all;
    return 0;
}
