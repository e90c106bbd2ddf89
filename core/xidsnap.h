/* xidsnap.h: whether a PostgreSQL snapshot sees a transaction.
 *
 * A snapshot's text form (pg_current_snapshot()::text) is "xmin:xmax:xip"
 * with 64-bit transaction ids (xid8) in decimal, xip a comma-separated
 * list (possibly empty) of the ids in progress when it was taken.  A
 * committed transaction X is seen by the snapshot exactly when X < xmin,
 * or X < xmax and X is not in xip: PostgreSQL's own rule
 * (pg_visible_in_snapshot).  The API's read snapshot (api/readsnap.h) uses
 * it to tell whether it holds a write whose Skyvisor-Seq (the writing
 * transaction's id) a reader names.  Pure: no I/O. */
#ifndef SKYVISOR_CORE_XIDSNAP_H
#define SKYVISOR_CORE_XIDSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xidsnap {
    uint64_t xmin, xmax;
    uint64_t *xip;                  /* owned, n_xip ids */
    size_t n_xip;
};

/* Parses 'text' into 'out' (its xip owned by it: xidsnap_uninit).  Returns
 * 0, EINVAL when 'text' is not a snapshot (xmin > xmax, an id of xip
 * outside [xmin, xmax), anything malformed), or ENOMEM; 'out' is then
 * empty. */
int xidsnap_parse(const char *text, struct xidsnap *out);
void xidsnap_uninit(struct xidsnap *);
/* True when the snapshot sees the committed transaction 'xid'. */
bool xidsnap_sees(const struct xidsnap *, uint64_t xid);
/* Parses a transaction id as the API shows it (Skyvisor-Seq): 1 to 19
 * decimal digits, no sign, no leading zero, at most 2^63 - 1.  False when
 * 'text' is not one. */
bool xidsnap_parse_xid(const char *text, uint64_t *xid);

#endif
