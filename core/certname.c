/* certname.c: the rule in certname.h. */
#include "core/certname.h"

#include <string.h>

static bool
name_matches(const char *name, const char *host)
{
    size_t n = strlen(host);
    if (!n || strncmp(name, host, n)) {
        return false;
    }
    return name[n] == '\0' || !strncmp(name + n, " id:", 4);
}

bool
certname_names_host(const char *const *names, size_t n, const char *host)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i] && name_matches(names[i], host)) {
            return true;
        }
    }
    return false;
}

/* Appends 's' to buf[*len..size) as printable ASCII, cutting at the end. */
static void
put_ascii(char *buf, size_t size, size_t *len, const char *s)
{
    for (; *s && *len + 1 < size; s++) {
        unsigned char c = (unsigned char) *s;
        buf[(*len)++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
    }
    buf[*len] = '\0';
}

void
certname_refusal(const char *const *names, size_t n, const char *host,
                 char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = !names[i];
        for (size_t k = 0; k < i && !seen; k++) {
            seen = names[k] && !strcmp(names[k], names[i]);
        }
        if (seen) {
            continue;
        }
        put_ascii(buf, size, &len, listed++ ? ", \"" : "certificate names \"");
        put_ascii(buf, size, &len, names[i]);
        put_ascii(buf, size, &len, "\"");
    }
    put_ascii(buf, size, &len, listed ? ", not host \"" : "certificate names nothing, "
                                                         "not host \"");
    put_ascii(buf, size, &len, host);
    put_ascii(buf, size, &len, "\"");
}
