/* ovsdb_replica.h: an in-memory copy of monitored OVSDB tables.
 *
 * The replica is one jansson object {table: {uuid: row}} where each row is
 * the JSON object of its columns exactly as ovsdb-server sent them (RFC 7047
 * datum encoding, read with ctrl/ovsdb_datum.h).  It is fed the
 * <table-updates> of a monitor reply (after ovsdb_replica_clear()) and of
 * each "update" notification (RFC 7047 4.1.6, monitor version 1): a
 * row-update with "new" replaces the whole row (version 1 sends every
 * monitored column in "new"), one with only "old" deletes it.  Or, with
 * the kinds of the monitored columns known (ovsdb_replica_set_columns(),
 * from the schema), the <table-updates2> of a monitor_cond reply and its
 * "update2" notifications (ovsdb-server(7) 4.1.14): "initial" and "insert"
 * rows get the columns the server leaves out as default, and a "modify"
 * carries only the changed columns, each as its difference from the old
 * value (a set's or map's elements that changed, not the whole set: a
 * port added to a bridge of 200 costs one UUID on the wire, not 400;
 * the columns no schema names, "_version" of a monitor of every column,
 * are taken as they come).
 * Either way the replica holds whole rows, as version 1 sends them.
 *
 * Invariants: 'names' indexes the rows of 'tables' that have a string
 * "name", each name to one row (when two rows share a name, which Open
 * vSwitch's unique name index forbids, the last applied; deleting that one
 * unindexes the name); ovsdb_replica_apply()
 * validates the whole update before
 * changing anything, so a malformed update leaves the replica untouched;
 * 'seqno' increases by one on every successful apply or clear, so a caller
 * can cheaply notice change.  Rows handed out are borrowed and valid until
 * the next apply/clear.
 *
 * Changed names.  Once ovsdb_replica_track() enabled it, the replica also
 * gathers the "name" of every named row inserted, deleted or modified
 * (old and new name; rows of every table in one set, so a Port and its
 * Interface of the same name count once), except a modification that
 * touched only 'quiet' columns (counters); a clear marks everything
 * changed.  One consumer takes what gathered (ovsdb_replica_take_changes())
 * and knows every other named row is as it was at its last take.
 *
 * Key indexes.  ovsdb_replica_index_key() declares an index of a table's
 * rows by the first 'prefix_len' characters of one key of a map column
 * (Interface external_ids:skyvisor-vm-id by 8): each such prefix to the
 * set of rows whose value starts with it, kept with every apply. */
#ifndef SKYVISOR_CTRL_OVSDB_REPLICA_H
#define SKYVISOR_CTRL_OVSDB_REPLICA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct ovsdb_replica {
    json_t *tables;     /* {table: {uuid: row}}, owned. */
    json_t *names;      /* {table: {name: uuid}}, owned: the rows by their
                         * "name" column (unique in Bridge, Port and
                         * Interface), for ovsdb_replica_find(). */
    uint64_t seqno;
    json_t *changed;    /* {name: null} since the last take, owned; NULL
                         * while not tracking (or out of memory: 'all') */
    bool tracking;
    bool all;           /* everything counts as changed */
    const char *const *quiet;   /* NULL-terminated, borrowed (static) */
    json_t *cols;       /* {table: {column: [kind, default]}}, owned, NULL
                         * until ovsdb_replica_set_columns() */
    struct ovsdb_replica_index {
        const char *table, *column, *key;   /* borrowed (static) */
        size_t prefix_len;
        json_t *rows;                       /* {prefix: {uuid: null}}, owned */
    } index[2];
    size_t n_index;
};

void ovsdb_replica_init(struct ovsdb_replica *);
void ovsdb_replica_uninit(struct ovsdb_replica *);
void ovsdb_replica_clear(struct ovsdb_replica *);
/* Applies <table-updates> 'updates' (borrowed).  Returns 0, or EPROTO with
 * '*errp' a static reason (replica unchanged), or ENOMEM. */
int ovsdb_replica_apply(struct ovsdb_replica *, const json_t *updates,
                        const char **errp);
/* Column kinds, for ovsdb_replica_apply2(). */
enum ovsdb_col_kind {
    OVSDB_COL_SCALAR,       /* at most one atom (max 1): a difference is the
                             * new value, ["set", []] for none */
    OVSDB_COL_SET,          /* more than one allowed: the elements that changed */
    OVSDB_COL_MAP,
};
/* Sets the monitored columns {table: {column: [kind, default value]}}
 * (consumed; NULL forgets them). */
void ovsdb_replica_set_columns(struct ovsdb_replica *, json_t *cols);
/* Applies <table-updates2> 'updates' (borrowed) with the columns set
 * before.  Returns 0, or EPROTO with '*errp' a static reason (replica
 * unchanged: a malformed update, a modify or delete of a row it does not
 * hold, a table or column it has no kind for), or ENOMEM. */
int ovsdb_replica_apply2(struct ovsdb_replica *, const json_t *updates, const char **errp);
/* Starts gathering changed names (see above); 'quiet' (NULL-terminated,
 * NULL for none) must outlive the replica.  Until the first take,
 * everything counts as changed. */
void ovsdb_replica_track(struct ovsdb_replica *, const char *const *quiet);
/* The names changed since the last take ({name: null}, caller owns; NULL
 * when '*allp' is set: everything counts as changed, as after a clear or
 * when tracking is off), and starts gathering afresh. */
json_t *ovsdb_replica_take_changes(struct ovsdb_replica *, bool *allp);

/* Declares a key index (see above; strings static), before the first
 * apply.  Returns 0, or ENOSPC (two are declared already) or ENOMEM. */
int ovsdb_replica_index_key(struct ovsdb_replica *, const char *table,
                            const char *column, const char *key, size_t prefix_len);
/* The rows of the index on (table, column, key) whose value starts with
 * 'prefix' (its first prefix_len characters count): {uuid: null},
 * borrowed, or NULL for none.  '*indexedp' is false when no such index was
 * declared (the caller must scan). */
const json_t *ovsdb_replica_key_rows(const struct ovsdb_replica *, const char *table,
                                     const char *column, const char *key,
                                     const char *prefix, bool *indexedp);

/* {uuid: row} of 'table' (possibly NULL if never seen); borrowed. */
const json_t *ovsdb_replica_table(const struct ovsdb_replica *,
                                  const char *table);
/* The row 'uuid' of 'table', or NULL; borrowed. */
const json_t *ovsdb_replica_row(const struct ovsdb_replica *,
                                const char *table, const char *uuid);
/* The first row of 'table' whose string column 'column' equals 'value', or
 * NULL.  Its UUID goes to '*uuidp' if nonnull (borrowed).  By "name" it
 * is a hash lookup (the last row given that name when names repeat, which
 * Open vSwitch's schema forbids where it has the column); by any other
 * column a scan of the table. */
const json_t *ovsdb_replica_find(const struct ovsdb_replica *,
                                 const char *table, const char *column,
                                 const char *value, const char **uuidp);
/* The only row of a one-row table (Open_vSwitch) or NULL; uuid likewise. */
const json_t *ovsdb_replica_first(const struct ovsdb_replica *,
                                  const char *table, const char **uuidp);

#endif
