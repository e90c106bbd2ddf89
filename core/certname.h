/* certname.h: does a switch's TLS certificate name the host it claims to be?
 *
 * Open vSwitch, and the TLS layer under skyvisor's sessions
 * (ctrl/stream.h), check only that a peer's certificate chains to the CA
 * they trust: any switch holding a certificate from the switch CA could
 * pose as any host.  skyvisor therefore also requires that the certificate
 * names the host the session is for:
 *
 *   - a certificate's names are its subject common name (CN) and its DNS
 *     subjectAltNames;
 *   - a name N names host H when N is H, or N starts with "H id:", which
 *     is what `ovs-pki req+sign H switch` writes ("H id:<uuid>", in both
 *     the CN and the subjectAltName);
 *   - the comparison is exact (host names are lower case [a-z0-9-]).
 *
 * Which host a session is for: an OVSDB session belongs to the host whose
 * `ovsdb` target it dialled; an OpenFlow connection to the host whose
 * datapath id the switch reported in its FEATURES_REPLY (the platform
 * derives each host's datapath id from its id), in both directions.
 *
 * Pure functions, no I/O, no allocation. */
#ifndef SKYVISOR_CORE_CERTNAME_H
#define SKYVISOR_CORE_CERTNAME_H

#include <stdbool.h>
#include <stddef.h>

/* True if one of names[0..n) names 'host' (see above). */
bool certname_names_host(const char *const *names, size_t n, const char *host);

/* Writes why a certificate with names[0..n) is refused for 'host' into
 * buf (size > 0; always NUL-terminated, cut if needed), for a log line and
 * an object's status detail: 'certificate names "x", not host "h"'.  Each
 * distinct name is listed once; bytes outside printable ASCII become '?',
 * so the text is plain ASCII whatever the certificate holds. */
void certname_refusal(const char *const *names, size_t n, const char *host,
                      char *buf, size_t size);

#endif
