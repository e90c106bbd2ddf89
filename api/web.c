/* web.c: the dashboard's static files, served at /ui/ from copies compiled
 * into the binary (web/, embedded by tools/embed), so a running skyvisord
 * always serves the dashboard it was built with.  No server-side rendering:
 * the pages sign in with a token kept in the browser and talk to the API
 * like any other client. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/embed.h"

extern const struct embed_file api_web_files[];
extern const size_t api_web_count;
size_t api_web_size(size_t i);

static const char *
content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++) {
        if (!strcmp(dot, types[i].ext)) {
            return types[i].type;
        }
    }
    return "application/octet-stream";
}

void
web_static(struct api_req *req, struct api_resp *resp)
{
    const char *path = req->params[0][0] ? req->params[0] : "index.html";
    for (size_t i = 0; i < api_web_count; i++) {
        if (!strcmp(api_web_files[i].name, path)) {
            size_t len = api_web_size(i);
            char *copy = malloc(len + 1);
            if (!copy) {
                api_problem(resp, req, SVE_INTERNAL, NULL, "out of memory");
                return;
            }
            memcpy(copy, api_web_files[i].data, len + 1);
            api_reply_owned(resp, 200, copy, len, content_type(path));
            resp->security_headers = true;
            return;
        }
    }
    api_problem(resp, req, SVE_NOT_FOUND, NULL, "no file '%s' in the dashboard", path);
}
