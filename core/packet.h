/* packet.h: the Ethernet, ARP and IP numbers and the MAC address forms
 * that every part of skyvisor speaks.
 *
 * A MAC address travels through the code as a uint64_t holding its 48 bits
 * in the low bits, first wire byte highest (02:00:00:00:00:05 is
 * 0x020000000005): that is how OpenFlow matches carry it (ctrl/ofmatch.c)
 * and how the flow compiler (core/netmodel.c) composes platform MACs, the
 * tenant's 16-bit tag in the first two bytes and the VM's wire_low in the
 * last four (netmodel_wire_mac, the one place that rule is written).
 *
 *   packet_get_mac / packet_put_mac   6 wire bytes <-> uint64_t
 *   packet_parse_mac                  "aa:bb:cc:dd:ee:ff" (or '-') -> 6 bytes
 *   packet_format_mac                 uint64_t -> "aa:bb:cc:dd:ee:ff"
 *
 * Pure, no allocation.  The byte helpers are inline so that programs that
 * must not link the controller (bench/ofbench.c) can use them too. */
#ifndef SKYVISOR_CORE_PACKET_H
#define SKYVISOR_CORE_PACKET_H

#include <stdbool.h>
#include <stdint.h>

/* EtherTypes. */
#define ETH_TYPE_IP     0x0800
#define ETH_TYPE_ARP    0x0806
#define ETH_TYPE_RARP   0x8035
#define ETH_TYPE_VLAN   0x8100          /* 802.1Q tag */
#define ETH_TYPE_IPV6   0x86dd
#define ETH_TYPE_QINQ   0x88a8          /* 802.1ad service tag */
#define ETH_TYPE_LLDP   0x88cc

/* ARP opcodes. */
#define ARP_OP_REQUEST  1
#define ARP_OP_REPLY    2

/* IP protocol numbers. */
#define IP_PROTO_ICMP   1
#define IP_PROTO_TCP    6
#define IP_PROTO_UDP    17

/* MACs (low 48 bits). */
#define ETH_MAC_GROUP_BIT   0x010000000000ull   /* multicast, broadcast */
#define ETH_MAC_BROADCAST   0xffffffffffffull
#define ETH_MAC_LLDP        0x0180c200000eull   /* nearest bridge */

/* The MAC in the 6 bytes at 'p' (network order). */
static inline uint64_t
packet_get_mac(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Writes the low 48 bits of 'mac' to the 6 bytes at 'p' (network order). */
static inline void
packet_put_mac(uint8_t *p, uint64_t mac)
{
    for (int i = 0; i < 6; i++) {
        p[i] = (uint8_t) (mac >> (40 - 8 * i));
    }
}

/* Parses exactly six two-digit hex octets separated by one separator,
 * ':' or '-' (the same throughout), into mac[] (untouched on failure).
 * Any address, multicast and zero too: core/validate.c's validate_mac
 * says which a VM may have. */
bool packet_parse_mac(const char *s, uint8_t mac[6]);

/* Writes "aa:bb:cc:dd:ee:ff" (lower case, NUL-terminated) to 'out'. */
void packet_format_mac(uint64_t mac, char out[18]);

#endif
