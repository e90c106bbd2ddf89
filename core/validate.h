/* validate.h: syntax and range checks for every value the API accepts.
 *
 * Pure functions, no I/O, no allocation unless stated.  Each returns true
 * when the value is acceptable; the ones that normalise write the canonical
 * form into a caller-provided buffer.  They are the single definition of
 * "valid" for the HTTP layer; the database repeats the essential ones as
 * CHECK constraints so no writer can bypass them. */
#ifndef SKYVISOR_CORE_VALIDATE_H
#define SKYVISOR_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Object names: 1..63 of [a-z0-9-], starting and ending alphanumeric, and
 * not shaped like a UUID (path segments accept a name or an id). */
bool validate_name(const char *s);
/* The same shape with another maximum length (link names: 127). */
bool validate_name_len(const char *s, size_t max);
/* Canonical lowercase UUID text, 36 characters. */
bool validate_uuid(const char *s);
/* ISO 3166-1 alpha-2 code, assigned or user-assigned; uppercase only. */
bool validate_country(const char *s);
/* Non-negative decimal with up to 9 integer and 6 fraction digits. */
bool validate_decimal(const char *s);
/* Free text of 1..max characters (code points) of valid UTF-8, without
 * control characters (C0, DEL, C1) or bidirectional formatting characters
 * (U+202A-U+202E, U+2066-U+2069). */
bool validate_text(const char *s, size_t max);
/* Linux interface name: 1..15 of [A-Za-z0-9_.-]. */
bool validate_ifname(const char *s);

/* Dotted-quad IPv4 without leading zeros; *addr in host order. */
bool validate_ipv4(const char *s, uint32_t *addr);
/* "a.b.c.d/len" with 8 <= len <= 30 and no host bits set. */
bool validate_cidr(const char *s, uint32_t *net, unsigned int *len);
/* The same with the prefix length in min_len..max_len (0..32): "0.0.0.0/0"
 * passes validate_prefix(s, 0, 32, ...). */
bool validate_prefix(const char *s, unsigned int min_len, unsigned int max_len,
                     uint32_t *net, unsigned int *len);
/* True if 'addr' lies inside net/len and is neither its network nor its
 * broadcast address. */
bool validate_ip_in_subnet(uint32_t addr, uint32_t net, unsigned int len);

/* MAC "aa:bb:cc:dd:ee:ff" (either case; '-' separators accepted), unicast and
 * non-zero.  Writes the canonical lowercase colon form (18 bytes with NUL)
 * into 'canon' when non-NULL. */
bool validate_mac(const char *s, uint8_t mac[6], char canon[18]);

/* Endpoint of an OVSDB or OpenFlow peer: "unix:/absolute/path",
 * "tcp:IPv4:PORT" or "ssl:IPv4:PORT" (1..65535).  'allow_unix' false
 * admits only tcp and ssl. */
bool validate_endpoint(const char *s, bool allow_unix);

/* Label key: 1..63 of [a-z0-9._/-] starting and ending alphanumeric. */
bool validate_label_key(const char *s);
/* Label value: empty, or free text of up to 255 characters (validate_text). */
bool validate_label_value(const char *s);

/* Idempotency-Key header value: 1..255 printable ASCII. */
bool validate_idempotency_key(const char *s);

#endif
