/* ovsdb_datum.c: RFC 7047 datum encoding; see ovsdb_datum.h. */
#include "ctrl/ovsdb_datum.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

json_t *
ovsdb_datum_uuid(const char *uuid)
{
    return json_pack("[ss]", "uuid", uuid);
}

json_t *
ovsdb_datum_named_uuid(const char *name)
{
    return json_pack("[ss]", "named-uuid", name);
}

json_t *
ovsdb_datum_set(json_t *elems)
{
    return elems ? json_pack("[so]", "set", elems) : NULL;
}

json_t *
ovsdb_datum_empty(void)
{
    return json_pack("[s[]]", "set");
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

json_t *
ovsdb_datum_map(json_t *obj)
{
    if (!json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    size_t n = json_object_size(obj), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    json_t *pairs = json_array();
    if (!keys || !pairs) {
        free(keys);
        json_decref(pairs);
        json_decref(obj);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 0; i < n; i++) {
        json_array_append_new(pairs, json_pack("[sO]", keys[i],
                                               json_object_get(obj, keys[i])));
    }
    free(keys);
    json_decref(obj);
    return json_pack("[so]", "map", pairs);
}

bool
ovsdb_datum_is_uuid_string(const char *u)
{
    if (!u || strlen(u) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !isxdigit((unsigned char) u[i])) {
            return false;
        }
    }
    return true;
}

/* True if 'datum' is ["TAG", <array>]. */
static const json_t *
tagged_array(const json_t *datum, const char *tag)
{
    if (json_is_array(datum) && json_array_size(datum) == 2
        && json_is_string(json_array_get(datum, 0))
        && !strcmp(json_string_value(json_array_get(datum, 0)), tag)
        && json_is_array(json_array_get(datum, 1))) {
        return json_array_get(datum, 1);
    }
    return NULL;
}

size_t
ovsdb_datum_n(const json_t *datum)
{
    const json_t *elems = tagged_array(datum, "set");
    if (elems) {
        return json_array_size(elems);
    }
    if (!datum || tagged_array(datum, "map")) {
        return 0;
    }
    return 1;
}

const json_t *
ovsdb_datum_at(const json_t *datum, size_t i)
{
    const json_t *elems = tagged_array(datum, "set");
    if (elems) {
        return json_array_get(elems, i);
    }
    return i == 0 && ovsdb_datum_n(datum) == 1 ? datum : NULL;
}

const char *
ovsdb_datum_get_uuid(const json_t *atom)
{
    if (json_is_array(atom) && json_array_size(atom) == 2
        && json_is_string(json_array_get(atom, 0))
        && !strcmp(json_string_value(json_array_get(atom, 0)), "uuid")) {
        return json_string_value(json_array_get(atom, 1));
    }
    return NULL;
}

bool
ovsdb_datum_has_uuid(const json_t *datum, const char *uuid)
{
    size_t n = ovsdb_datum_n(datum);
    for (size_t i = 0; i < n; i++) {
        const char *u = ovsdb_datum_get_uuid(ovsdb_datum_at(datum, i));
        if (u && !strcmp(u, uuid)) {
            return true;
        }
    }
    return false;
}

const char *
ovsdb_datum_map_get(const json_t *datum, const char *key)
{
    const json_t *pairs = tagged_array(datum, "map");
    size_t i;
    json_t *pair;
    json_array_foreach(pairs, i, pair) {
        const char *k = json_string_value(json_array_get(pair, 0));
        if (json_array_size(pair) == 2 && k && !strcmp(k, key)) {
            return json_string_value(json_array_get(pair, 1));
        }
    }
    return NULL;
}

size_t
ovsdb_datum_map_n(const json_t *datum)
{
    return json_array_size(tagged_array(datum, "map"));
}

const char *
ovsdb_datum_string(const json_t *datum)
{
    return ovsdb_datum_n(datum) == 1
           ? json_string_value(ovsdb_datum_at(datum, 0)) : NULL;
}

bool
ovsdb_datum_integer(const json_t *datum, long long *v)
{
    const json_t *a = ovsdb_datum_n(datum) == 1 ? ovsdb_datum_at(datum, 0)
                                                 : NULL;
    if (!json_is_integer(a)) {
        return false;
    }
    *v = json_integer_value(a);
    return true;
}
