/* utf8.h: UTF-8 as RFC 3629 defines it, for text that comes off the wire.
 *
 * Pure functions, no allocation.  "Valid" means well-formed UTF-8: no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
 * no truncated sequence.  The HTTP layer checks decoded paths and query
 * parameters with utf8_valid() and makes every text it echoes in a
 * problem body well-formed with utf8_sanitize(), so that the JSON encoder
 * (which refuses ill-formed strings) never fails on a client's bytes. */
#ifndef SKYVISOR_CORE_UTF8_H
#define SKYVISOR_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed sequence at s[0..len), 1 to 4, or 0 when the
 * bytes there do not start one (including a sequence cut short by len). */
size_t utf8_seq_len(const unsigned char *s, size_t len);
/* True if s[0..len) is well-formed UTF-8 (NUL bytes count as valid). */
bool utf8_valid(const char *s, size_t len);
/* 'len' less a character cut short at the end of s[0..len): a lead byte
 * and fewer continuation bytes than it announces.  What a fixed buffer cut
 * off is dropped rather than shown as U+FFFD. */
size_t utf8_whole_len(const char *s, size_t len);
/* Copies s[0..len) into 'out' (cap >= 1 bytes), replacing every byte that
 * does not start a well-formed sequence with U+FFFD, and stops at the last
 * whole character that fits before the terminating NUL.  NUL bytes in 's'
 * become U+FFFD too, so the result is one C string.  Returns its length. */
size_t utf8_sanitize(const char *s, size_t len, char *out, size_t cap);

#endif
