/* ovsdb_txn.h: builder for OVSDB "transact" requests (RFC 7047 5.2) and
 * checker for their replies.
 *
 * A transaction is a list of operations built in order; ovsdb_txn_params()
 * turns it into the params array ["DB", op, op...].  Rows and conditions
 * use the RFC 7047 datum encoding (ctrl/ovsdb_datum.h); a row inserted with
 * a uuid-name may be referred to later in the same transaction as
 * ["named-uuid", NAME].
 *
 * The reply is an array with one result per operation, followed by one
 * extra element if the commit itself failed; an operation that failed has
 * {"error": E, "details": D} and the ones after it are null.
 * ovsdb_txn_check_result() folds all of that into 0 or EIO + a message.
 *
 * Ownership: every json_t argument is consumed, always, even on failure. */
#ifndef SKYVISOR_CTRL_OVSDB_TXN_H
#define SKYVISOR_CTRL_OVSDB_TXN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ovsdb_txn;

/* Returns a new, empty transaction (caller owns) or NULL on ENOMEM. */
struct ovsdb_txn *ovsdb_txn_create(void);
void ovsdb_txn_destroy(struct ovsdb_txn *);
size_t ovsdb_txn_n_ops(const struct ovsdb_txn *);

/* Each returns 0 or ENOMEM.  'uuid_name' may be NULL. */
int ovsdb_txn_insert(struct ovsdb_txn *, const char *table, json_t *row,
                     const char *uuid_name);
int ovsdb_txn_update(struct ovsdb_txn *, const char *table, json_t *where,
                     json_t *row);
int ovsdb_txn_delete(struct ovsdb_txn *, const char *table, json_t *where);
int ovsdb_txn_mutate(struct ovsdb_txn *, const char *table, json_t *where,
                     json_t *mutations);
/* "wait": 'equal' selects until "==" (else "!="); 'rows' are the expected
 * column values of the selected rows. */
int ovsdb_txn_wait(struct ovsdb_txn *, const char *table, json_t *where,
                   json_t *columns, bool equal, json_t *rows, int timeout_ms);
int ovsdb_txn_comment(struct ovsdb_txn *, const char *comment);

/* Conditions: [["_uuid", "==", ["uuid", U]]] and [[column, "==", value]]
 * (new references, caller owns). */
json_t *ovsdb_txn_where_uuid(const char *uuid);
json_t *ovsdb_txn_where_eq(const char *column, json_t *value);
/* Mutation [column, mutator, value] (new reference). */
json_t *ovsdb_txn_mutation(const char *column, const char *mutator,
                           json_t *value);

/* ["DB", op...]: a new reference, caller owns. */
json_t *ovsdb_txn_params(const struct ovsdb_txn *, const char *db);

/* Checks a transact reply 'result' (borrowed) for 'n_ops' operations.
 * Returns 0, or EIO with '*errp' a malloc'ed message naming the failing
 * operation (caller frees), or EPROTO if the reply is not an array. */
int ovsdb_txn_check_result(const json_t *result, size_t n_ops, char **errp);
/* The UUID string created by the insert at 'index' of 'result' (borrowed),
 * or NULL. */
const char *ovsdb_txn_insert_uuid(const json_t *result, size_t index);

#endif
