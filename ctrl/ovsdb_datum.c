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

bool
ovsdb_datum_is_atom(const json_t *a)
{
    if (json_is_string(a) || json_is_number(a) || json_is_boolean(a)) {
        return true;
    }
    const char *tag = json_is_array(a) && json_array_size(a) == 2
                      ? json_string_value(json_array_get(a, 0)) : NULL;
    return tag && (!strcmp(tag, "uuid") || !strcmp(tag, "named-uuid"))
           && json_is_string(json_array_get(a, 1));
}

/* A key under which equal atoms meet in a lookup object: a string's or a
 * UUID's text behind a letter of its kind, any other atom's encoding.
 * Into buf (size 'size'), or malloc'ed into '*heap' (caller frees) when
 * longer; NULL if memory runs out. */
static const char *
atom_key(const json_t *a, char *buf, size_t size, char **heap)
{
    *heap = NULL;
    const char *s = json_string_value(a), *u = ovsdb_datum_get_uuid(a);
    char *enc = s || u ? NULL : json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
    const char *text = s ? s : u ? u : enc;
    if (!text) {
        return NULL;
    }
    char kind = s ? 's' : u ? 'u' : 'j';
    size_t n = strlen(text);
    char *out = n + 2 <= size ? buf : (*heap = malloc(n + 2));
    if (out) {
        out[0] = kind;
        memcpy(out + 1, text, n + 1);
    }
    free(enc);
    return out;
}

/* Index of the atom equal to 'a' in 'seen' ({key: index}), or -1; with
 * 'add' >= 0, records 'a' at that index when absent.  -2 when memory runs
 * out. */
static json_int_t
atom_lookup(json_t *seen, const json_t *a, json_int_t add)
{
    char buf[64], *heap;
    const char *k = atom_key(a, buf, sizeof buf, &heap);
    if (!k) {
        return -2;
    }
    const json_t *at = json_object_get(seen, k);
    json_int_t i = at ? json_integer_value(at) : -1;
    if (!at && add >= 0 && json_object_set_new(seen, k, json_integer(add))) {
        i = -2;
    }
    free(heap);
    return i;
}

json_t *
ovsdb_datum_set_apply_diff(const json_t *old, const json_t *diff)
{
    if (!diff || json_is_object(diff) || tagged_array(diff, "map")
        || (old && (json_is_object(old) || tagged_array(old, "map")))) {
        return NULL;
    }
    size_t n_old = ovsdb_datum_n(old), n_diff = ovsdb_datum_n(diff);
    json_t *seen = json_object(), *elems = json_array();
    bool *gone = calloc(n_old + 1, sizeof *gone);
    bool ok = seen && elems && gone;
    for (size_t i = 0; ok && i < n_old; i++) {
        ok = ovsdb_datum_is_atom(ovsdb_datum_at(old, i))
             && atom_lookup(seen, ovsdb_datum_at(old, i), (json_int_t) i) != -2;
    }
    json_t *added = json_array();
    ok = ok && added;
    for (size_t j = 0; ok && j < n_diff; j++) {
        const json_t *d = ovsdb_datum_at(diff, j);
        json_int_t i = ovsdb_datum_is_atom(d) ? atom_lookup(seen, d, (json_int_t) (n_old + j))
                                              : -2;
        if (i == -2) {
            ok = false;
        } else if (i >= 0 && i < (json_int_t) n_old) {
            gone[i] = true;
        } else if (i < 0) {
            ok = !json_array_append(added, (json_t *) d);
        }                           /* else: twice in the difference, once counts */
    }
    for (size_t i = 0; ok && i < n_old; i++) {
        if (!gone[i]) {
            ok = !json_array_append(elems, (json_t *) ovsdb_datum_at(old, i));
        }
    }
    ok = ok && !json_array_extend(elems, added);
    json_decref(added);
    json_decref(seen);
    free(gone);
    if (!ok) {
        json_decref(elems);
        return NULL;
    }
    if (json_array_size(elems) == 1) {
        json_t *one = json_incref(json_array_get(elems, 0));
        json_decref(elems);
        return one;
    }
    return ovsdb_datum_set(elems);
}

/* True if 'pair' is [atom, atom]. */
static bool
is_pair(const json_t *pair)
{
    return json_is_array(pair) && json_array_size(pair) == 2
           && ovsdb_datum_is_atom(json_array_get(pair, 0))
           && ovsdb_datum_is_atom(json_array_get(pair, 1));
}

json_t *
ovsdb_datum_map_apply_diff(const json_t *old, const json_t *diff)
{
    const json_t *dp = tagged_array(diff, "map");
    const json_t *op = old ? tagged_array(old, "map") : NULL;
    if (!dp || (old && !op)) {
        return NULL;
    }
    size_t n_old = json_array_size(op);
    json_t *seen = json_object(), *vals = json_array(), *added = json_array();
    bool *gone = calloc(n_old + 1, sizeof *gone);
    bool ok = seen && vals && added && gone;
    for (size_t i = 0; ok && i < n_old; i++) {
        const json_t *pair = json_array_get(op, i);
        ok = is_pair(pair) && atom_lookup(seen, json_array_get(pair, 0), (json_int_t) i) != -2
             && !json_array_append(vals, json_array_get(pair, 1));
    }
    for (size_t j = 0; ok && j < json_array_size(dp); j++) {
        const json_t *pair = json_array_get(dp, j);
        json_int_t i = is_pair(pair) ? atom_lookup(seen, json_array_get(pair, 0),
                                                   (json_int_t) (n_old + j)) : -2;
        if (i == -2 || i >= (json_int_t) n_old || (i >= 0 && gone[i])) {
            ok = false;             /* malformed, or a key twice in one difference */
        } else if (i >= 0) {
            if (json_equal(json_array_get(vals, (size_t) i), json_array_get(pair, 1))) {
                gone[i] = true;
            } else {
                ok = !json_array_set(vals, (size_t) i, json_array_get(pair, 1));
            }
        } else {
            ok = !json_array_append(added, (json_t *) pair);
        }
    }
    json_t *pairs = json_array();
    ok = ok && pairs;
    for (size_t i = 0; ok && i < n_old; i++) {
        if (!gone[i]) {
            json_t *pair = json_pack("[OO]", json_array_get(json_array_get(op, i), 0),
                                     json_array_get(vals, i));
            ok = pair && !json_array_append_new(pairs, pair);
        }
    }
    ok = ok && !json_array_extend(pairs, added);
    json_decref(seen);
    json_decref(vals);
    json_decref(added);
    free(gone);
    if (!ok) {
        json_decref(pairs);
        return NULL;
    }
    return json_pack("[so]", "map", pairs);
}
