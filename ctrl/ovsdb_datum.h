/* ovsdb_datum.h: the RFC 7047 (section 5.1) JSON encoding of OVSDB values.
 *
 * An OVSDB datum on the wire is an atom (string, integer, real, boolean,
 * ["uuid", U] or ["named-uuid", N]), a set ["set", [atom...]] (a set of
 * exactly one element may also be sent as the bare atom) or a map
 * ["map", [[key, value]...]].  The encoders here build those shapes; the
 * decoders read them back leniently (they accept both set forms) and never
 * trust the input: every accessor returns NULL / 0 on a wrong shape.
 *
 * Ownership: encoders return new references and consume the json_t they
 * are given (always, even on failure); decoders return borrowed pointers
 * into their argument. */
#ifndef SKYVISOR_CTRL_OVSDB_DATUM_H
#define SKYVISOR_CTRL_OVSDB_DATUM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

json_t *ovsdb_datum_uuid(const char *uuid);          /* ["uuid", U] */
json_t *ovsdb_datum_named_uuid(const char *name);    /* ["named-uuid", N] */
/* ["set", elems]; consumes 'elems' (a JSON array). */
json_t *ovsdb_datum_set(json_t *elems);
/* ["set", []]: the empty optional value. */
json_t *ovsdb_datum_empty(void);
/* ["map", [[k, v]...]] from a JSON object of strings, keys sorted so output
 * is deterministic; consumes 'obj'. */
json_t *ovsdb_datum_map(json_t *obj);
/* True if 'u' is a syntactically valid UUID string (8-4-4-4-12 hex). */
bool ovsdb_datum_is_uuid_string(const char *u);

/* Decoding.  Number of elements of a set (1 for a bare atom, 0 for NULL or
 * a malformed value) and the i-th element (borrowed). */
size_t ovsdb_datum_n(const json_t *datum);
const json_t *ovsdb_datum_at(const json_t *datum, size_t i);
/* The UUID string of an atom ["uuid", U], else NULL (borrowed). */
const char *ovsdb_datum_get_uuid(const json_t *atom);
/* True if set 'datum' contains ["uuid", uuid]. */
bool ovsdb_datum_has_uuid(const json_t *datum, const char *uuid);
/* The string value of 'key' in map 'datum', else NULL (borrowed). */
const char *ovsdb_datum_map_get(const json_t *datum, const char *key);
/* Number of pairs of a map, 0 if malformed. */
size_t ovsdb_datum_map_n(const json_t *datum);
/* The single string of 'datum' (bare string or one-element set), else NULL. */
const char *ovsdb_datum_string(const json_t *datum);
/* The single integer of 'datum' into '*v'; false if empty or malformed. */
bool ovsdb_datum_integer(const json_t *datum, long long *v);

/* True if 'a' is an atom: a string, number, boolean, ["uuid", U] or
 * ["named-uuid", N]. */
bool ovsdb_datum_is_atom(const json_t *a);
/* Monitor_cond's differences (ovsdb-server(7), 4.1.14), applied: the new
 * value of a set whose old value is 'old' given 'diff', the elements in
 * exactly one of old and new (each is removed if present, else added), or
 * of a map given 'diff', pairs (a key absent is added, a key present with
 * the same value removed, with another value given the new one).  Old
 * elements keep their order, added ones follow; a set of one element
 * comes out as the bare atom, as ovsdb-server sends it.  Both arguments
 * borrowed ('old' may be NULL: empty); returns a new reference, NULL when
 * 'diff' (or 'old') is not of the shape or memory runs out. */
json_t *ovsdb_datum_set_apply_diff(const json_t *old, const json_t *diff);
json_t *ovsdb_datum_map_apply_diff(const json_t *old, const json_t *diff);

#endif
