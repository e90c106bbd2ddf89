/* embed.h: files compiled into the binary (migrations, the OpenAPI
 * document) by tools/embed.  Each is NUL-terminated static data. */
#ifndef SKYVISOR_CORE_EMBED_H
#define SKYVISOR_CORE_EMBED_H

#include <stddef.h>

struct embed_file {
    const char *name;   /* base name, e.g. "001_init.sql" */
    const char *data;   /* contents, NUL-terminated */
};

#endif
