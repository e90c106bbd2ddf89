/* readsnap.h: GETs of clouds, hosts and tenants answered from memory.
 *
 * One thread (its own PostgreSQL connection) keeps a snapshot of every
 * cloud, host and tenant representation, read in one transaction
 * (db/readsnap.h), and publishes it to the HTTP workers with liburcu
 * (urcu-bp: readers hold urcu_bp_read_lock while they copy out of it).
 * With the rows, each snapshot holds the database snapshot they were read
 * at (core/xidsnap.h) and the first page of each list, body and ETag,
 * built once.
 *
 * Exactness.  A row in the snapshot is the text and revision a read at
 * that database snapshot answers, status included, so its body and ETag
 * are those PostgreSQL gave at that moment; a representation is never
 * assembled from parts of different ages.  What the snapshot may be is
 * old.  It answers a read only when it is known to hold
 *   (a) every write this process acknowledged: 'changes' counts the
 *       writes it answered (readsnap_note_write, called after the commit,
 *       before the answer) and the notifications it received; a snapshot
 *       records the count read before its database snapshot was taken, and
 *       answers only while the count has not moved since.  A write this
 *       instance acknowledged is thus always seen by the next read of any
 *       client of this instance;
 *   (b) what the reader names: Skyvisor-Min-Seq, the Skyvisor-Seq of a
 *       write (the writing transaction's id, db/changelog.h), must be seen
 *       by the snapshot's database snapshot.  That is how a client reads
 *       its write back through another instance.
 * Anything else (a stale snapshot, a Min-Seq not yet seen, a list page
 * after a cursor the snapshot does not hold, no snapshot yet) goes to
 * PostgreSQL, as every other resource always does.  Writes of other
 * instances and status write-backs reach the snapshot through NOTIFY
 * ('skyvisor_desired', 'skyvisor_status': migrations/012): between such a
 * commit and its notification, a read without Min-Seq may answer the
 * previous state, as a read that started a moment earlier would have.
 *
 * The refresher thread: wait for a notification, a local write or a
 * second; when 'changes' moved since the snapshot (or after the LISTEN
 * connection was (re)made, when anything may have been missed), read a new
 * snapshot, publish it, free the old one after a grace period.  Tokens are
 * not held here: a token is checked in the database on every request
 * (api/auth.c), so a revocation holds at once everywhere. */
#ifndef SKYVISOR_API_READSNAP_H
#define SKYVISOR_API_READSNAP_H

#include <stdbool.h>

#include "api/api.h"

struct readsnap;
struct store_res;

/* Starts the refresher on its own connection to 'conninfo'.  NULL when
 * memory or a thread cannot be had (reads then all go to PostgreSQL). */
struct readsnap *readsnap_start(const char *conninfo);
/* Stops the thread and frees everything; accepts NULL. */
void readsnap_stop(struct readsnap *);
/* After a write transaction ended (committed or not), before its answer
 * goes out.  Accepts NULL. */
void readsnap_note_write(struct readsnap *);

enum readsnap_answer {
    READSNAP_ANSWERED,      /* resp holds the answer (or the problem) */
    READSNAP_DATABASE,      /* read PostgreSQL */
};
/* The list GET of 'store' (a page: limit, and the name the page starts
 * after, NULL for the first) and the single GET of the object 'key' (an
 * id or a name).  Both first check Skyvisor-Min-Seq (malformed: 400,
 * READSNAP_ANSWERED); 'rs' may be NULL (nothing served). */
enum readsnap_answer readsnap_list(struct readsnap *, struct api_req *,
                                   struct api_resp *, const struct store_res *,
                                   unsigned int limit, const char *after);
enum readsnap_answer readsnap_get(struct readsnap *, struct api_req *,
                                  struct api_resp *, const struct store_res *,
                                  const char *key);

/* Counters for /metrics. */
struct readsnap_stats {
    unsigned long long served;      /* answered from the snapshot */
    unsigned long long stale;       /* to PostgreSQL: changes since it */
    unsigned long long behind;      /* to PostgreSQL: Min-Seq not seen */
    unsigned long long other;       /* to PostgreSQL: no snapshot, unknown
                                     * cursor */
    unsigned long long refreshes;   /* snapshots read */
};
void readsnap_get_stats(struct readsnap *, struct readsnap_stats *);

#endif
