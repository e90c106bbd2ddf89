/* ovsdb_replica.c: monitor replica; see ovsdb_replica.h for the model. */
#include "ctrl/ovsdb_replica.h"

#include <errno.h>
#include <string.h>

#include "ctrl/ovsdb_datum.h"

void
ovsdb_replica_init(struct ovsdb_replica *r)
{
    r->tables = json_object();
    r->names = json_object();
    r->seqno = 0;
}

void
ovsdb_replica_uninit(struct ovsdb_replica *r)
{
    json_decref(r->tables);
    json_decref(r->names);
    r->tables = NULL;
    r->names = NULL;
}

void
ovsdb_replica_clear(struct ovsdb_replica *r)
{
    json_object_clear(r->tables);
    json_object_clear(r->names);
    r->seqno++;
}

/* The "name" of 'row', NULL if it has none (or it is not a string). */
static const char *
row_name(const json_t *row)
{
    return json_string_value(json_object_get(row, "name"));
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
