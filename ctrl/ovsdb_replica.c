/* ovsdb_replica.c: monitor replica; see ovsdb_replica.h for the model. */
#include "ctrl/ovsdb_replica.h"

#include <errno.h>
#include <string.h>

#include "ctrl/ovsdb_datum.h"

/* The "name" of 'row', NULL if it has none (or it is not a string). */
static const char *
row_name(const json_t *row)
{
    return json_string_value(json_object_get(row, "name"));
}

void
ovsdb_replica_init(struct ovsdb_replica *r)
{
    r->tables = json_object();
    r->names = json_object();
    r->seqno = 0;
    r->changed = NULL;
    r->tracking = false;
    r->all = true;
    r->quiet = NULL;
    r->cols = NULL;
    r->n_index = 0;
}

void
ovsdb_replica_uninit(struct ovsdb_replica *r)
{
    json_decref(r->tables);
    json_decref(r->names);
    json_decref(r->changed);
    json_decref(r->cols);
    r->cols = NULL;
    r->tables = NULL;
    r->names = NULL;
    r->changed = NULL;
    for (size_t i = 0; i < r->n_index; i++) {
        json_decref(r->index[i].rows);
    }
    r->n_index = 0;
}

void
ovsdb_replica_clear(struct ovsdb_replica *r)
{
    json_object_clear(r->tables);
    json_object_clear(r->names);
    for (size_t i = 0; i < r->n_index; i++) {
        json_object_clear(r->index[i].rows);
    }
    r->all = true;
    r->seqno++;
}

int
ovsdb_replica_index_key(struct ovsdb_replica *r, const char *table, const char *column,
                        const char *key, size_t prefix_len)
{
    if (r->n_index >= sizeof r->index / sizeof *r->index) {
        return ENOSPC;
    }
    json_t *rows = json_object();
    if (!rows) {
        return ENOMEM;
    }
    r->index[r->n_index++] = (struct ovsdb_replica_index) {
        table, column, key, prefix_len, rows,
    };
    return 0;
}

/* The prefix of 'row' in index 'x' (into buf), NULL when it has none. */
static const char *
index_prefix(const struct ovsdb_replica_index *x, const json_t *row, char *buf, size_t size)
{
    const char *v = row ? ovsdb_datum_map_get(json_object_get(row, x->column), x->key) : NULL;
    if (!v) {
        return NULL;
    }
    size_t n = strlen(v) < x->prefix_len || !x->prefix_len ? strlen(v) : x->prefix_len;
    if (n >= size) {
        n = size - 1;
    }
    memcpy(buf, v, n);
    buf[n] = 0;
    return buf;
}

/* Moves row 'uuid' of 'table' from 'old' to 'new' (either NULL) in the
 * indexes on it.  False when memory ran out. */
static bool
reindex(struct ovsdb_replica *r, const char *table, const char *uuid, const json_t *old,
        const json_t *new)
{
    bool ok = true;
    for (size_t i = 0; i < r->n_index; i++) {
        struct ovsdb_replica_index *x = &r->index[i];
        char a[128], b[128];
        if (strcmp(x->table, table)) {
            continue;
        }
        const char *pa = index_prefix(x, old, a, sizeof a);
        const char *pb = index_prefix(x, new, b, sizeof b);
        json_t *set = pa ? json_object_get(x->rows, pa) : NULL;
        if (set) {
            json_object_del(set, uuid);
            if (!json_object_size(set)) {
                json_object_del(x->rows, pa);
            }
        }
        if (pb) {
            set = json_object_get(x->rows, pb);
            if (!set) {
                set = json_object();
                ok &= set && !json_object_set_new(x->rows, pb, set);
            }
            ok &= set && !json_object_set_new(set, uuid, json_null());
        }
    }
    return ok;
}

const json_t *
ovsdb_replica_key_rows(const struct ovsdb_replica *r, const char *table, const char *column,
                       const char *key, const char *prefix, bool *indexedp)
{
    for (size_t i = 0; i < r->n_index; i++) {
        const struct ovsdb_replica_index *x = &r->index[i];
        if (!strcmp(x->table, table) && !strcmp(x->column, column) && !strcmp(x->key, key)) {
            char buf[128];
            size_t n = strlen(prefix);
            n = x->prefix_len && n > x->prefix_len ? x->prefix_len : n;
            *indexedp = true;
            if (n >= sizeof buf) {
                return NULL;
            }
            memcpy(buf, prefix, n);
            buf[n] = 0;
            return json_object_get(x->rows, buf);
        }
    }
    *indexedp = false;
    return NULL;
}

void
ovsdb_replica_track(struct ovsdb_replica *r, const char *const *quiet)
{
    r->tracking = true;
    r->all = true;
    r->quiet = quiet;
}

json_t *
ovsdb_replica_take_changes(struct ovsdb_replica *r, bool *allp)
{
    json_t *out = NULL;
    if (r->tracking && !r->all) {
        out = r->changed ? r->changed : json_object();
    } else {
        json_decref(r->changed);
    }
    *allp = !out;
    r->changed = NULL;
    r->all = !r->tracking;
    return out;
}

/* Whether 'col' is one of the replica's quiet columns. */
static bool
is_quiet(const struct ovsdb_replica *r, const char *col)
{
    for (size_t i = 0; r->quiet && r->quiet[i]; i++) {
        if (!strcmp(r->quiet[i], col)) {
            return true;
        }
    }
    return false;
}

/* Whether row-update 'ru' (of a row the replica holds) changed only quiet
 * columns: monitor version 1 names the changed columns in "old". */
static bool
quiet_update(const struct ovsdb_replica *r, const json_t *ru)
{
    const json_t *old = json_object_get(ru, "old");
    if (!r->quiet || !old || !json_object_get(ru, "new") || !json_object_size(old)) {
        return false;
    }
    const char *col;
    json_t *v;
    json_object_foreach((json_t *) old, col, v) {
        if (!is_quiet(r, col)) {
            return false;
        }
    }
    return true;
}

/* Gathers the name of 'row' as changed (see the header). */
static void
note_changed(struct ovsdb_replica *r, const json_t *row)
{
    const char *name = row_name(row);
    if (!r->tracking || r->all || !name) {
        return;
    }
    if (!r->changed) {
        r->changed = json_object();
    }
    if (!r->changed || json_object_set_new(r->changed, name, json_null())) {
        r->all = true;              /* out of memory: nothing is known */
    }
}

/* Drops 'row' ('uuid' of a table whose name index is 'names') from the
 * index, if the index points at it. */
static void
unindex(json_t *names, const char *uuid, const json_t *row)
{
    const char *name = row_name(row);
    const char *at = name ? json_string_value(json_object_get(names, name)) : NULL;
    if (at && !strcmp(at, uuid)) {
        json_object_del(names, name);
    }
}

static int
validate(const json_t *updates, const char **errp)
{
    const char *table, *uuid;
    json_t *tu, *ru;
    if (!json_is_object(updates)) {
        *errp = "table-updates is not an object";
        return EPROTO;
    }
    json_object_foreach((json_t *) updates, table, tu) {
        if (!json_is_object(tu)) {
            *errp = "table-update is not an object";
            return EPROTO;
        }
        json_object_foreach(tu, uuid, ru) {
            if (!ovsdb_datum_is_uuid_string(uuid)) {
                *errp = "row-update key is not a UUID";
                return EPROTO;
            }
            json_t *old = json_object_get(ru, "old");
            json_t *new = json_object_get(ru, "new");
            if (!json_is_object(ru) || (!old && !new)
                || (old && !json_is_object(old))
                || (new && !json_is_object(new))) {
                *errp = "malformed row-update";
                return EPROTO;
            }
        }
    }
    return 0;
}

/* The row and name objects of 'table', made when first seen; NULL when
 * memory runs out. */
static bool
table_objs(struct ovsdb_replica *r, const char *table, json_t **rowsp, json_t **namesp)
{
    json_t *rows = json_object_get(r->tables, table);
    json_t *names = json_object_get(r->names, table);
    if (!rows) {
        rows = json_object();
        if (!rows || json_object_set_new(r->tables, table, rows)) {
            return false;
        }
    }
    if (!names) {
        names = json_object();
        if (!names || json_object_set_new(r->names, table, names)) {
            return false;
        }
    }
    *rowsp = rows;
    *namesp = names;
    return true;
}

/* Puts 'new' (consumed; NULL: deleted) as row 'uuid' of 'table', keeping
 * the name index, the key indexes and the changed names ('quiet': only
 * quiet columns changed).  ENOMEM when an index could not be kept. */
static int
commit_row(struct ovsdb_replica *r, const char *table, json_t *rows, json_t *names,
           const char *uuid, json_t *new, bool quiet)
{
    json_t *old = json_object_get(rows, uuid);
    if (!old || !quiet) {
        note_changed(r, old);
        note_changed(r, new);
    }
    if (r->n_index && !reindex(r, table, uuid, old, new)) {
        json_decref(new);
        return ENOMEM;              /* the session drops and rebuilds it */
    }
    if (old) {
        unindex(names, uuid, old);
    }
    if (new) {
        json_object_set_new(rows, uuid, new);
        const char *name = row_name(new);
        if (name) {
            json_object_set_new(names, name, json_string(uuid));
        }
    } else {
        json_object_del(rows, uuid);
    }
    return 0;
}

int
ovsdb_replica_apply(struct ovsdb_replica *r, const json_t *updates,
                    const char **errp)
{
    *errp = NULL;
    int err = validate(updates, errp);
    if (err) {
        return err;
    }
    const char *table, *uuid;
    json_t *tu, *ru;
    json_object_foreach((json_t *) updates, table, tu) {
        json_t *rows, *names;
        if (!table_objs(r, table, &rows, &names)) {
            *errp = "out of memory";
            return ENOMEM;
        }
        json_object_foreach(tu, uuid, ru) {
            json_t *new = json_object_get(ru, "new");
            bool quiet = json_object_get(rows, uuid) && quiet_update(r, ru);
            json_t *copy = new ? json_deep_copy(new) : NULL;
            if ((new && !copy) || commit_row(r, table, rows, names, uuid, copy, quiet)) {
                *errp = "out of memory";
                return ENOMEM;
            }
        }
    }
    r->seqno++;
    return 0;
}

void
ovsdb_replica_set_columns(struct ovsdb_replica *r, json_t *cols)
{
    json_decref(r->cols);
    r->cols = cols;
}

/* The kind and default of 'column' of 'table' (NULL if unknown). */
static const json_t *
column_of(const struct ovsdb_replica *r, const char *table, const char *column,
          enum ovsdb_col_kind *kind)
{
    const json_t *c = json_object_get(json_object_get(r->cols, table), column);
    *kind = (enum ovsdb_col_kind) json_integer_value(json_array_get(c, 0));
    return c;
}

/* True if 'v' is a value of a column of at most one atom: the atom, or
 * ["set", []] or ["set", [atom]]. */
static bool
optional_ok(const json_t *v)
{
    if (ovsdb_datum_is_atom(v)) {
        return true;
    }
    const char *tag = json_is_array(v) && json_array_size(v) == 2
                      ? json_string_value(json_array_get(v, 0)) : NULL;
    const json_t *elems = tag && !strcmp(tag, "set") ? json_array_get(v, 1) : NULL;
    return json_is_array(elems) && (json_array_size(elems) == 0
                                    || (json_array_size(elems) == 1
                                        && ovsdb_datum_is_atom(json_array_get(elems, 0))));
}

/* The one member of row-update2 'ru' ("initial", "insert", "delete" or
 * "modify") into '*what', its value returned; NULL if 'ru' is not that. */
static const json_t *
update2_member(const json_t *ru, const char **what)
{
    static const char *const kinds[] = {"initial", "insert", "delete", "modify"};
    if (!json_is_object(ru) || json_object_size(ru) != 1) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const json_t *v = json_object_get(ru, kinds[i]);
        if (v) {
            *what = kinds[i];
            return (i == 2 ? json_is_null(v) : json_is_object(v)) ? v : NULL;
        }
    }
    return NULL;
}

/* The new row of one row-update2 (member 'what', value 'v') of a row whose
 * current value is 'old' (NULL: none): a new reference; NULL with '*errp'
 * set when it cannot apply, or for a delete (no error). */
static json_t *
row_after(const struct ovsdb_replica *r, const char *table, const char *what,
          const json_t *v, const json_t *old, bool *quiet, const char **errp)
{
    *quiet = false;
    if (!strcmp(what, "delete")) {
        if (!old) {
            *errp = "delete of a row the replica does not hold";
        }
        return NULL;
    }
    const json_t *tcols = json_object_get(r->cols, table);
    if (!tcols) {
        *errp = "update2 of a table without its columns";
        return NULL;
    }
    const char *col;
    json_t *val;
    if (strcmp(what, "modify")) {
        /* initial, insert: the row with its defaults filled in. */
        json_t *row = json_copy((json_t *) v);
        json_object_foreach((json_t *) tcols, col, val) {
            if (row && !json_object_get(row, col)
                && json_object_set(row, col, json_array_get(val, 1))) {
                json_decref(row);
                row = NULL;
            }
        }
        if (!row) {
            *errp = "out of memory";
        }
        return row;
    }
    if (!old) {
        *errp = "modify of a row the replica does not hold";
        return NULL;
    }
    json_t *row = json_copy((json_t *) old);
    bool all_quiet = json_object_size(v) > 0;
    json_object_foreach((json_t *) v, col, val) {
        enum ovsdb_col_kind kind;
        if (col[0] == '_') {
            kind = OVSDB_COL_SCALAR;    /* _version, _uuid: in no schema */
        } else if (!column_of(r, table, col, &kind)) {
            *errp = "modify of a column without its kind";
            json_decref(row);
            return NULL;
        }
        const json_t *was = json_object_get(old, col);
        json_t *now = kind == OVSDB_COL_MAP ? ovsdb_datum_map_apply_diff(was, val)
                    : kind == OVSDB_COL_SET ? ovsdb_datum_set_apply_diff(was, val)
                    : optional_ok(val) ? json_incref(val) : NULL;
        if (!now || !row || json_object_set_new(row, col, now)) {
            *errp = row && now ? "out of memory" : "malformed difference in a modify";
            json_decref(row);
            return NULL;
        }
        all_quiet &= is_quiet(r, col);
    }
    *quiet = all_quiet;
    return row;
}

int
ovsdb_replica_apply2(struct ovsdb_replica *r, const json_t *updates, const char **errp)
{
    *errp = NULL;
    if (!json_is_object(updates)) {
        *errp = "table-updates2 is not an object";
        return EPROTO;
    }
    /* Every new row first, {table: {uuid: [row or null, quiet]}}: nothing
     * changes unless all of them apply. */
    json_t *staged = json_object();
    if (!staged) {
        *errp = "out of memory";
        return ENOMEM;
    }
    const char *table, *uuid;
    json_t *tu, *ru;
    json_object_foreach((json_t *) updates, table, tu) {
        json_t *st = json_object();
        if (!st || json_object_set_new(staged, table, st)) {
            *errp = "out of memory";
            json_decref(staged);
            return ENOMEM;
        }
        if (!json_is_object(tu)) {
            *errp = "table-update2 is not an object";
            json_decref(staged);
            return EPROTO;
        }
        json_object_foreach(tu, uuid, ru) {
            const char *what = NULL;
            const json_t *v = update2_member(ru, &what);
            if (!ovsdb_datum_is_uuid_string(uuid) || !v) {
                *errp = !v ? "malformed row-update2" : "row-update2 key is not a UUID";
                json_decref(staged);
                return EPROTO;
            }
            bool quiet;
            const json_t *old = ovsdb_replica_row(r, table, uuid);
            json_t *row = row_after(r, table, what, v, old, &quiet, errp);
            if (*errp) {
                json_decref(staged);
                return strcmp(*errp, "out of memory") ? EPROTO : ENOMEM;
            }
            json_t *pair = json_pack("[ob]", row ? row : json_null(), quiet);
            if (!pair || json_object_set_new(st, uuid, pair)) {
                *errp = "out of memory";
                json_decref(staged);
                return ENOMEM;
            }
        }
    }
    json_t *st;
    json_object_foreach(staged, table, st) {
        json_t *rows, *names;
        if (!table_objs(r, table, &rows, &names)) {
            *errp = "out of memory";
            json_decref(staged);
            return ENOMEM;
        }
        json_t *pair;
        json_object_foreach(st, uuid, pair) {
            json_t *row = json_array_get(pair, 0);
            if (commit_row(r, table, rows, names, uuid,
                           json_is_null(row) ? NULL : json_incref(row),
                           json_is_true(json_array_get(pair, 1)))) {
                *errp = "out of memory";
                json_decref(staged);
                return ENOMEM;
            }
        }
    }
    json_decref(staged);
    r->seqno++;
    return 0;
}

const json_t *
ovsdb_replica_table(const struct ovsdb_replica *r, const char *table)
{
    return json_object_get(r->tables, table);
}

const json_t *
ovsdb_replica_row(const struct ovsdb_replica *r, const char *table,
                  const char *uuid)
{
    return json_object_get(ovsdb_replica_table(r, table), uuid);
}

const json_t *
ovsdb_replica_find(const struct ovsdb_replica *r, const char *table,
                   const char *column, const char *value, const char **uuidp)
{
    const char *uuid;
    json_t *row;
    if (!strcmp(column, "name")) {
        const json_t *at = json_object_get(json_object_get(r->names, table), value);
        uuid = json_string_value(at);
        row = uuid ? json_object_get(ovsdb_replica_table(r, table), uuid) : NULL;
        if (row && uuidp) {
            *uuidp = uuid;
        }
        return row;
    }
    json_object_foreach((json_t *) ovsdb_replica_table(r, table), uuid, row) {
        const char *s = json_string_value(json_object_get(row, column));
        if (s && !strcmp(s, value)) {
            if (uuidp) {
                *uuidp = uuid;
            }
            return row;
        }
    }
    return NULL;
}

const json_t *
ovsdb_replica_first(const struct ovsdb_replica *r, const char *table,
                    const char **uuidp)
{
    const char *uuid;
    json_t *row;
    json_object_foreach((json_t *) ovsdb_replica_table(r, table), uuid, row) {
        if (uuidp) {
            *uuidp = uuid;
        }
        return row;
    }
    return NULL;
}
