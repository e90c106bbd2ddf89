/* embed.h: files compiled into the binary (migrations, the OpenAPI
 * document, the dashboard) by tools/embed.  Each is static data followed by
 * a NUL byte; PREFIX_size(i) gives the length of entry i without it. */
#ifndef SKYVISOR_CORE_EMBED_H
#define SKYVISOR_CORE_EMBED_H

#include <stddef.h>

struct embed_file {
    const char *name;   /* path without its first directory: "001_init.sql" */
    const char *data;   /* contents, NUL-terminated */
};

#endif
