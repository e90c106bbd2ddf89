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
    r->n_index = 0;
}

void
ovsdb_replica_uninit(struct ovsdb_replica *r)
{
    json_decref(r->tables);
    json_decref(r->names);
    json_decref(r->changed);
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
        bool q = false;
        for (size_t i = 0; r->quiet[i] && !q; i++) {
            q = !strcmp(r->quiet[i], col);
        }
        if (!q) {
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
        json_t *rows = json_object_get(r->tables, table);
        json_t *names = json_object_get(r->names, table);
        if (!rows) {
            rows = json_object();
            if (!rows || json_object_set_new(r->tables, table, rows)) {
                *errp = "out of memory";
                return ENOMEM;
            }
        }
        if (!names) {
            names = json_object();
            if (!names || json_object_set_new(r->names, table, names)) {
                *errp = "out of memory";
                return ENOMEM;
            }
        }
        json_object_foreach(tu, uuid, ru) {
            json_t *new = json_object_get(ru, "new");
            json_t *old = json_object_get(rows, uuid);
            if (!old || !quiet_update(r, ru)) {
                note_changed(r, old);
                note_changed(r, new);
            }
            if (r->n_index && !reindex(r, table, uuid, old, new)) {
                *errp = "out of memory";
                return ENOMEM;      /* the session drops and rebuilds it */
            }
            if (old) {
                unindex(names, uuid, old);
            }
            if (new) {
                json_t *copy = json_deep_copy(new);
                json_object_set_new(rows, uuid, copy);
                const char *name = row_name(copy);
                if (name) {
                    json_object_set_new(names, name, json_string(uuid));
                }
            } else {
                json_object_del(rows, uuid);
            }
        }
    }
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
