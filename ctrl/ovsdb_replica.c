/* ovsdb_replica.c: monitor replica; see ovsdb_replica.h for the model. */
#include "ctrl/ovsdb_replica.h"

#include <errno.h>
#include <string.h>

#include "ctrl/ovsdb_datum.h"

void
ovsdb_replica_init(struct ovsdb_replica *r)
{
    r->tables = json_object();
    r->seqno = 0;
}

void
ovsdb_replica_uninit(struct ovsdb_replica *r)
{
    json_decref(r->tables);
    r->tables = NULL;
}

void
ovsdb_replica_clear(struct ovsdb_replica *r)
{
    json_object_clear(r->tables);
    r->seqno++;
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
        if (!rows) {
            rows = json_object();
            if (!rows || json_object_set_new(r->tables, table, rows)) {
                *errp = "out of memory";
                return ENOMEM;
            }
        }
        json_object_foreach(tu, uuid, ru) {
            json_t *new = json_object_get(ru, "new");
            if (new) {
                json_object_set_new(rows, uuid, json_deep_copy(new));
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
