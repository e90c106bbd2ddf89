/* embedded.h: skyvisord's own PostgreSQL cluster, for running without
 * --db.
 *
 * Layout under the data directory:
 *   pgdata/          the cluster (initdb on first start, reused afterwards)
 *   run/             the server's unix socket (it listens on no TCP port)
 *   postgres.log     the server's log
 * The installed PostgreSQL binaries are used (the newest version under
 * /usr/lib/postgresql, or $SKYVISOR_PG_BINDIR).  PostgreSQL refuses to run
 * as root, so when skyvisord is root the cluster belongs to, and the server
 * runs as, the unprivileged user "postgres".  The cluster is stopped by
 * embedded_pg_stop() only if this process started it. */
#ifndef SKYVISOR_DB_EMBEDDED_H
#define SKYVISOR_DB_EMBEDDED_H

#include <stddef.h>

struct embedded_pg;

/* Creates (if needed) and starts the cluster in 'data_dir'.  Returns the
 * handle, owned by the caller, and a libpq conninfo in *conninfo (owned by
 * the handle); NULL with a message in 'err' on failure. */
struct embedded_pg *embedded_pg_start(const char *data_dir,
                                      const char **conninfo, char *err,
                                      size_t errlen);
/* Stops the server if this process started it, and frees the handle. */
void embedded_pg_stop(struct embedded_pg *);

#endif
