/* fuzz_http.h: what the HTTP fuzz target (fuzz_http.c) and its database
 * stand-in (fuzz_http_db.c) share.
 *
 * fuzz_http runs with libpq stood in for: every PQ function db/ calls is
 * wrapped at link time (-Wl,--wrap) and answered from a fixed world of
 * objects (the one fuzz_http.c's bootstrap creates) under the direction of
 * a script, the bytes of the fuzz input after its first NUL.
 * fuzz_http_pg runs the same harness against a real PostgreSQL and has no
 * stand-in: there the fdb_ functions below are the harness's own no-ops. */
#ifndef SKYVISOR_TESTS_FUZZ_HTTP_H
#define SKYVISOR_TESTS_FUZZ_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The world's tenant tokens, as the stand-in knows them: read-write and
 * read-only (well-formed, "svt_" + 64 hex). */
#define FDB_TOKEN_RW "svt_" "0123456789abcdef0123456789abcdef" \
                     "0123456789abcdef0123456789abcdef"
#define FDB_TOKEN_RO "svt_" "fedcba9876543210fedcba9876543210" \
                     "fedcba9876543210fedcba9876543210"

/* Starts a request: the stand-in answers from 'script' (borrowed until the
 * next call) and forgets what the last request met. */
void fdb_begin(const uint8_t *script, size_t len);

/* What the stand-in did during the request. */
struct fdb_report {
    bool outage;        /* it simulated an outage (lost connection, server
                         * going down, serialization failures, timeouts):
                         * a 503 is a correct answer */
    bool contended;     /* it simulated a concurrent writer (an UPDATE or
                         * DELETE that found its row gone or changed after
                         * it was read): after the retries run out, a 503
                         * is a correct answer too */
    bool committed;     /* a COMMIT was answered COMMIT */
    bool write_outside_txn; /* an INSERT, UPDATE or DELETE of a resource ran
                         * outside a transaction: never right, every API
                         * write runs in one */
    bool replayed;      /* an idempotency record was found and handed out */
};
void fdb_report(struct fdb_report *);

#endif
