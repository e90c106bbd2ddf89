/* flowtable.h: the flows skyvisor has installed on one bridge, as the
 * bridge last confirmed them (a barrier reply after the flow-mods, or a
 * read-back), so that a change is diffed against memory instead of a
 * read-back of the whole bridge (ovn-controller's "installed flows").
 *
 * A flow's identity is (table, priority, match), its content the cookie
 * and the instructions.  Both are kept in canonical wire form: the match
 * encoded with its fields sorted (Open vSwitch reports fields in an order
 * of its own), the instructions as encoded, so identity is a byte
 * comparison.
 *
 * Memory.  At 10 000 VMs the bridges hold about 180 flows per VM, and most
 * of them are the same match or the same instructions on many bridges (the
 * tenant-table entry of a VM is one match and one instruction list on
 * every host where a member of its component sends).  So the byte strings
 * live in a pool that the tables share (struct flowtable_pool), each
 * distinct string once, counted by reference, and a table's entry is a
 * fixed 32 bytes pointing into it.
 *
 * Diffing is mark and sweep:
 *   flowtable_begin(ft)        starts a diff (a new generation);
 *   flowtable_mark(ft, fm)     for each wanted flow: marks the installed
 *                              flow of the same identity as wanted and
 *                              tells whether it is absent, the same, or
 *                              different (an add/modify is needed);
 *   flowtable_sweep(ft, ...)   the installed flows of the diff's scope
 *                              that no flowtable_mark() named: the flows to
 *                              delete, as DELETE_STRICT flow-mods.
 * The scope is a predicate on the cookie, so a diff may cover one owner's
 * flows (the cookies of one VM) and leave every other flow alone.
 * flowtable_set() and flowtable_remove() record what a barrier confirmed;
 * a batch that failed leaves the table as it was, and the next diff
 * simply proposes the same changes again.
 *
 * Threads: a pool and its tables belong to one thread (the reconciler's). */
#ifndef SKYVISOR_CTRL_FLOWTABLE_H
#define SKYVISOR_CTRL_FLOWTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/ofmsg.h"

struct flowtable;
struct flowtable_pool;

/* NULL when memory runs out.  The caller owns the pool, and destroys it
 * after every table made with it. */
struct flowtable_pool *flowtable_pool_create(void);
void flowtable_pool_destroy(struct flowtable_pool *);   /* accepts NULL */
/* Bytes held by the pool: its strings and their index. */
size_t flowtable_pool_bytes(const struct flowtable_pool *);
/* Distinct strings in the pool. */
size_t flowtable_pool_count(const struct flowtable_pool *);

/* A table whose strings go to 'pool'.  NULL when memory runs out.  The
 * caller owns the table. */
struct flowtable *flowtable_create(struct flowtable_pool *pool);
void flowtable_destroy(struct flowtable *);     /* accepts NULL */
void flowtable_clear(struct flowtable *);
size_t flowtable_count(const struct flowtable *);
/* Bytes held by the table itself: its entries and its two indexes (the
 * strings are the pool's). */
size_t flowtable_bytes(const struct flowtable *);

/* Records that the flow of 'fm' (its table, priority, match, cookie and
 * instructions; the command is ignored) is installed.  0 or ENOMEM. */
int flowtable_set(struct flowtable *, const struct ofmsg_flow_mod *fm);
/* Records that the flow with this identity is gone.  True if it was
 * there. */
bool flowtable_remove(struct flowtable *, uint8_t table, uint16_t priority,
                      const struct ofmatch *);
/* Replaces the content with a read-back.  0 or ENOMEM (then empty). */
int flowtable_load(struct flowtable *, const struct offlow_stats *, size_t n);

enum flowtable_state { FLOWTABLE_ABSENT, FLOWTABLE_SAME, FLOWTABLE_DIFFERENT };

void flowtable_begin(struct flowtable *);
/* See the file comment.  ENOMEM is reported as FLOWTABLE_ABSENT (the
 * caller then sends the flow, which is harmless). */
enum flowtable_state flowtable_mark(struct flowtable *, const struct ofmsg_flow_mod *);
typedef bool flowtable_scope_fn(void *aux, uint64_t cookie);
/* Appends to *dels (grown with realloc; *n and *cap track it) a
 * DELETE_STRICT flow-mod for every installed flow in scope ('scope' NULL:
 * all) that was not marked since flowtable_begin().  The flow-mods own
 * nothing (ofmsg_uninit is harmless).  0 or ENOMEM. */
int flowtable_sweep(const struct flowtable *, flowtable_scope_fn *scope, void *aux,
                    struct ofmsg **dels, size_t *n, size_t *cap);
/* flowtable_sweep() scoped to the flows of cookies[0..n_cookies) (sorted:
 * a repeated cookie counts once), visiting only those flows (an index by
 * cookie): what an owners' diff costs does not grow with the bridge. */
int flowtable_sweep_cookies(const struct flowtable *, const uint64_t *cookies,
                            size_t n_cookies, struct ofmsg **dels, size_t *n, size_t *cap);

/* The distinct meters the installed flows name (their meter
 * instructions), sorted, in a new array *ids of *n entries (the caller
 * frees it; NULL when none).  0 or ENOMEM. */
int flowtable_meters(const struct flowtable *, uint32_t **ids, size_t *n);
/* Compares a read-back with the table without changing it: *missing
 * counts installed flows the bridge no longer has or has with other
 * content, *extra the bridge's flows the table does not know.  0 or
 * ENOMEM. */
int flowtable_compare(struct flowtable *, const struct offlow_stats *, size_t n,
                      size_t *missing, size_t *extra);

#endif
