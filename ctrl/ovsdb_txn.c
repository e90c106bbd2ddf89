/* ovsdb_txn.c: transact builder and reply checker; see ovsdb_txn.h. */
#include "ctrl/ovsdb_txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ovsdb_datum.h"

struct ovsdb_txn {
    json_t *ops;        /* Array of operation objects. */
};

struct ovsdb_txn *
ovsdb_txn_create(void)
{
    struct ovsdb_txn *txn = malloc(sizeof *txn);
    if (txn && !(txn->ops = json_array())) {
        free(txn);
        txn = NULL;
    }
    return txn;
}

void
ovsdb_txn_destroy(struct ovsdb_txn *txn)
{
    if (txn) {
        json_decref(txn->ops);
        free(txn);
    }
}

size_t
ovsdb_txn_n_ops(const struct ovsdb_txn *txn)
{
    return json_array_size(txn->ops);
}

/* Appends 'op' (consumed); NULL means an earlier allocation failed. */
static int
add_op(struct ovsdb_txn *txn, json_t *op)
{
    return op && !json_array_append_new(txn->ops, op) ? 0 : ENOMEM;
}

int
ovsdb_txn_insert(struct ovsdb_txn *txn, const char *table, json_t *row,
                 const char *uuid_name)
{
    json_t *op = json_pack("{s:s, s:s, s:o}", "op", "insert", "table", table,
                           "row", row);
    if (op && uuid_name) {
        json_object_set_new(op, "uuid-name", json_string(uuid_name));
    }
    return add_op(txn, op);
}

int
ovsdb_txn_update(struct ovsdb_txn *txn, const char *table, json_t *where,
                 json_t *row)
{
    return add_op(txn, json_pack("{s:s, s:s, s:o, s:o}", "op", "update",
                                 "table", table, "where", where, "row", row));
}

int
ovsdb_txn_delete(struct ovsdb_txn *txn, const char *table, json_t *where)
{
    return add_op(txn, json_pack("{s:s, s:s, s:o}", "op", "delete",
                                 "table", table, "where", where));
}

int
ovsdb_txn_mutate(struct ovsdb_txn *txn, const char *table, json_t *where,
                 json_t *mutations)
{
    return add_op(txn, json_pack("{s:s, s:s, s:o, s:o}", "op", "mutate",
                                 "table", table, "where", where,
                                 "mutations", mutations));
}

int
ovsdb_txn_wait(struct ovsdb_txn *txn, const char *table, json_t *where,
               json_t *columns, bool equal, json_t *rows, int timeout_ms)
{
    return add_op(txn, json_pack("{s:s, s:i, s:s, s:o, s:o, s:s, s:o}",
                                 "op", "wait", "timeout", timeout_ms,
                                 "table", table, "where", where,
                                 "columns", columns,
                                 "until", equal ? "==" : "!=", "rows", rows));
}

int
ovsdb_txn_comment(struct ovsdb_txn *txn, const char *comment)
{
    return add_op(txn, json_pack("{s:s, s:s}", "op", "comment",
                                 "comment", comment));
}

json_t *
ovsdb_txn_where_uuid(const char *uuid)
{
    return json_pack("[[s s o]]", "_uuid", "==", ovsdb_datum_uuid(uuid));
}

json_t *
ovsdb_txn_where_eq(const char *column, json_t *value)
{
    return json_pack("[[s s o]]", column, "==", value);
}

json_t *
ovsdb_txn_mutation(const char *column, const char *mutator, json_t *value)
{
    return json_pack("[s s o]", column, mutator, value);
}

json_t *
ovsdb_txn_params(const struct ovsdb_txn *txn, const char *db)
{
    json_t *params = json_pack("[s]", db);
    if (params && json_array_extend(params, txn->ops)) {
        json_decref(params);
        return NULL;
    }
    return params;
}

int
ovsdb_txn_check_result(const json_t *result, size_t n_ops, char **errp)
{
    *errp = NULL;
    if (!json_is_array(result)) {
        *errp = strdup("transact reply is not an array");
        return EPROTO;
    }
    size_t i;
    json_t *r;
    json_array_foreach(result, i, r) {
        const char *e = json_string_value(json_object_get(r, "error"));
        if (e) {
            const char *d = json_string_value(json_object_get(r, "details"));
            if (asprintf(errp, "%s %zu: %s%s%s",
                         i < n_ops ? "operation" : "commit after operation",
                         i < n_ops || !n_ops ? i : n_ops - 1, e,
                         d ? ": " : "", d ? d : "") < 0) {
                *errp = NULL;
            }
            return EIO;
        }
    }
    if (json_array_size(result) < n_ops) {
        *errp = strdup("transact reply has too few results");
        return EPROTO;
    }
    return 0;
}

const char *
ovsdb_txn_insert_uuid(const json_t *result, size_t index)
{
    return ovsdb_datum_get_uuid(
        json_object_get(json_array_get(result, index), "uuid"));
}
