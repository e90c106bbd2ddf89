/* ofmsg.h: OpenFlow 1.3 messages as host-order structs, with an
 * encode/decode pair for each.
 *
 * Decoding: ofmsg_decode() takes one whole message (ofmsg_frame() says how
 * long the next one in a stream is), reads it only through a bounded pull
 * (ctrl/buf.h), checks the version, every embedded length (match,
 * instructions, actions, buckets, bands, multipart entries, ports) and every
 * enum it must understand, and fills a struct ofmsg.  On failure it returns
 * the OpenFlow error (ctrl/oferr.h) to send back; the struct is then empty.
 * Variable-length parts (action lists, buckets, packet data, multipart
 * entries) are heap copies owned by the struct: ofmsg_uninit() frees them,
 * so a decoded message never points into the receive buffer.
 *
 * Encoding: ofmsg_encode() appends the wire form of a struct to a buffer,
 * with the header's length filled in.  For a message that decoded cleanly,
 * encode(decode(bytes)) == bytes but for padding, which is written as zero
 * (as every implementation sends it): match fields keep their order on the
 * wire and nothing else is normalised.
 *
 * Builders are plain C initialisers of these structs plus the small helpers
 * below (ofmatch_set, ofmsg_flow_mod_init, ...). */
#ifndef SKYVISOR_CTRL_OFMSG_H
#define SKYVISOR_CTRL_OFMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/buf.h"
#include "ctrl/oferr.h"

#define OFP13_VERSION 4
#define OFP_HEADER_LEN 8

enum ofptype {
    OFPT_HELLO = 0, OFPT_ERROR = 1, OFPT_ECHO_REQUEST = 2, OFPT_ECHO_REPLY = 3,
    OFPT_EXPERIMENTER = 4, OFPT_FEATURES_REQUEST = 5, OFPT_FEATURES_REPLY = 6,
    OFPT_GET_CONFIG_REQUEST = 7, OFPT_GET_CONFIG_REPLY = 8, OFPT_SET_CONFIG = 9,
    OFPT_PACKET_IN = 10, OFPT_FLOW_REMOVED = 11, OFPT_PORT_STATUS = 12,
    OFPT_PACKET_OUT = 13, OFPT_FLOW_MOD = 14, OFPT_GROUP_MOD = 15,
    OFPT_PORT_MOD = 16, OFPT_TABLE_MOD = 17, OFPT_MULTIPART_REQUEST = 18,
    OFPT_MULTIPART_REPLY = 19, OFPT_BARRIER_REQUEST = 20,
    OFPT_BARRIER_REPLY = 21, OFPT_ROLE_REQUEST = 24, OFPT_ROLE_REPLY = 25,
    OFPT_METER_MOD = 29,
};

/* Reserved ports, groups, buffers. */
#define OFPP_MAX        0xffffff00u
#define OFPP_IN_PORT    0xfffffff8u
#define OFPP_TABLE      0xfffffff9u
#define OFPP_NORMAL     0xfffffffau
#define OFPP_FLOOD      0xfffffffbu
#define OFPP_ALL        0xfffffffcu
#define OFPP_CONTROLLER 0xfffffffdu
#define OFPP_LOCAL      0xfffffffeu
#define OFPP_ANY        0xffffffffu
#define OFPG_ANY        0xffffffffu
#define OFPM_MAX        0xffff0000u     /* the last meter id a switch numbers */
#define OFPM_ALL        0xffffffffu     /* every meter (METER_CONFIG, METER) */
#define OFP_NO_BUFFER   0xffffffffu
#define OFPCML_NO_BUFFER 0xffffu
#define OFPVID_PRESENT  0x1000u

enum ofp_flow_mod_command {
    OFPFC_ADD = 0, OFPFC_MODIFY = 1, OFPFC_MODIFY_STRICT = 2,
    OFPFC_DELETE = 3, OFPFC_DELETE_STRICT = 4,
};
enum {
    OFPFF_SEND_FLOW_REM = 1 << 0, OFPFF_CHECK_OVERLAP = 1 << 1,
    OFPFF_RESET_COUNTS = 1 << 2, OFPFF_NO_PKT_COUNTS = 1 << 3,
    OFPFF_NO_BYT_COUNTS = 1 << 4,
};
enum ofp_multipart_type {
    OFPMP_FLOW = 1, OFPMP_PORT_STATS = 4, OFPMP_QUEUE = 5, OFPMP_METER = 9,
    OFPMP_METER_CONFIG = 10,
    OFPMP_PORT_DESC = 13,
};
#define OFPMPF_MORE 1u          /* request and reply flag: more parts follow */
enum ofp_instruction_type {
    OFPIT_GOTO_TABLE = 1, OFPIT_WRITE_METADATA = 2, OFPIT_WRITE_ACTIONS = 3, OFPIT_APPLY_ACTIONS = 4,
    OFPIT_CLEAR_ACTIONS = 5, OFPIT_METER = 6,
};
enum ofp_action_type {
    OFPAT_OUTPUT = 0, OFPAT_PUSH_VLAN = 17, OFPAT_POP_VLAN = 18,
    OFPAT_SET_QUEUE = 21, OFPAT_GROUP = 22, OFPAT_SET_FIELD = 25,
};
enum ofp_group_type { OFPGT_ALL = 0, OFPGT_SELECT = 1, OFPGT_INDIRECT = 2, OFPGT_FF = 3 };
/* OFPGC_ADD_OR_MOD: Open vSwitch's extension, adds or replaces a group. */
enum ofp_group_command {
    OFPGC_ADD = 0, OFPGC_MODIFY = 1, OFPGC_DELETE = 2, OFPGC_ADD_OR_MOD = 0x8000,
};
enum ofp_meter_command { OFPMC_ADD = 0, OFPMC_MODIFY = 1, OFPMC_DELETE = 2 };
enum ofp_meter_band_type { OFPMBT_DROP = 1, OFPMBT_DSCP_REMARK = 2 };
enum { OFPMF_KBPS = 1, OFPMF_PKTPS = 2, OFPMF_BURST = 4, OFPMF_STATS = 8 };
enum ofp_controller_role {
    OFPCR_ROLE_NOCHANGE = 0, OFPCR_ROLE_EQUAL = 1, OFPCR_ROLE_MASTER = 2,
    OFPCR_ROLE_SLAVE = 3,
};
enum ofp_packet_in_reason { OFPR_NO_MATCH = 0, OFPR_ACTION = 1, OFPR_INVALID_TTL = 2 };
enum ofp_port_reason { OFPPR_ADD = 0, OFPPR_DELETE = 1, OFPPR_MODIFY = 2 };

/* --- match (OXM, class OPENFLOW_BASIC) --- */

enum mf {
    MF_IN_PORT, MF_ETH_DST, MF_ETH_SRC, MF_ETH_TYPE, MF_VLAN_VID, MF_IP_PROTO,
    MF_IPV4_SRC, MF_IPV4_DST, MF_TCP_SRC, MF_TCP_DST, MF_UDP_SRC, MF_UDP_DST,
    MF_ARP_OP, MF_ARP_SPA, MF_ARP_TPA, MF_ARP_SHA, MF_ARP_THA, MF_TUNNEL_ID,
    MF_METADATA,
    MF__COUNT
};

/* Values are host-order integers: MACs in the low 48 bits, VLAN VIDs with
 * OFPVID_PRESENT as on the wire.  Fields a switch sends that are not
 * modelled here (other OXM classes, such as Open vSwitch's tunnel metadata,
 * or other basic fields) are kept verbatim in 'opaque' so a match
 * re-encodes to the same bytes; a match built by the controller has none. */
#define OFMATCH_OPAQUE_MAX 256
#define OFMATCH_MAX_ITEMS 32
struct ofmatch {
    uint8_t n;                      /* items present, in wire order: */
    uint8_t order[OFMATCH_MAX_ITEMS]; /* enum mf, or 0x80 + opaque index */
    uint32_t masked;                /* bit (1 << field): a mask was given */
    uint64_t value[MF__COUNT];
    uint64_t mask[MF__COUNT];
    uint8_t n_opaque;
    uint16_t opaque_off[OFMATCH_MAX_ITEMS]; /* TLV start in 'opaque' */
    uint16_t opaque_len;
    uint8_t opaque[OFMATCH_OPAQUE_MAX];
};

void ofmatch_init(struct ofmatch *);
/* Adds or replaces a field (exact match). */
void ofmatch_set(struct ofmatch *, enum mf, uint64_t value);
/* Adds or replaces a masked field; false if the field is not maskable. */
bool ofmatch_set_masked(struct ofmatch *, enum mf, uint64_t value, uint64_t mask);
/* True if present; writes value and mask (all ones when exact). */
bool ofmatch_get(const struct ofmatch *, enum mf, uint64_t *value, uint64_t *mask);
bool ofmatch_equal(const struct ofmatch *, const struct ofmatch *);
/* Field metadata: name ("eth_dst"), wire length in bytes. */
const char *ofmatch_field_name(enum mf);
unsigned int ofmatch_field_len(enum mf);

/* --- actions and instructions --- */

/* An action or instruction of a type this codec does not model (an
 * experimenter action in a flow a switch reports, say) keeps its wire bytes
 * in 'raw' (owned) and re-encodes verbatim. */
struct ofaction {
    uint16_t type;                  /* enum ofp_action_type, or other */
    uint8_t *raw;                   /* other types: the whole TLV; owned */
    size_t raw_len;
    union {
        struct { uint32_t port; uint16_t max_len; } output;
        struct { uint8_t field; uint64_t value; } set_field;   /* enum mf */
        uint16_t push_vlan_ethertype;
        uint32_t group_id;
        uint32_t queue_id;
    } u;
};

struct ofinst {
    uint16_t type;                  /* enum ofp_instruction_type, or other */
    uint8_t *raw;                   /* other types: the whole TLV; owned */
    size_t raw_len;
    uint8_t table_id;               /* GOTO_TABLE */
    uint32_t meter_id;              /* METER */
    uint64_t metadata, metadata_mask;   /* WRITE_METADATA */
    struct ofaction *actions;       /* WRITE_ACTIONS, APPLY_ACTIONS; owned */
    size_t n_actions;
};

struct ofbucket {
    uint16_t weight;
    uint32_t watch_port, watch_group;
    struct ofaction *actions;       /* owned */
    size_t n_actions;
};

struct ofband {
    uint16_t type;                  /* enum ofp_meter_band_type */
    uint32_t rate, burst_size;
    uint8_t prec_level;             /* DSCP_REMARK */
};

struct ofport {
    uint32_t port_no;
    uint8_t hw_addr[6];
    char name[17];                  /* NUL-terminated */
    uint32_t config, state, curr, advertised, supported, peer;
    uint32_t curr_speed, max_speed;
};

/* --- messages --- */

/* HELLO: the first version bitmap, if any; 'elements' keeps all the
 * hello elements as received (owned) so the message re-encodes as is. */
struct ofmsg_hello {
    uint32_t bitmap;
    bool has_bitmap;
    uint8_t *elements;
    size_t elements_len;
};
struct ofmsg_error { uint16_t type, code; uint8_t *data; size_t len; };
struct ofmsg_echo { uint8_t *data; size_t len; };
struct ofmsg_features {
    uint64_t datapath_id;
    uint32_t n_buffers;
    uint8_t n_tables, auxiliary_id;
    uint32_t capabilities;
};
struct ofmsg_config { uint16_t flags, miss_send_len; };
struct ofmsg_packet_in {
    uint32_t buffer_id;
    uint16_t total_len;
    uint8_t reason, table_id;
    uint64_t cookie;
    struct ofmatch match;
    uint8_t *data;                  /* owned */
    size_t len;
};
struct ofmsg_packet_out {
    uint32_t buffer_id, in_port;
    struct ofaction *actions;       /* owned */
    size_t n_actions;
    uint8_t *data;                  /* owned */
    size_t len;
};
struct ofmsg_flow_mod {
    uint64_t cookie, cookie_mask;
    uint8_t table_id, command;
    uint16_t idle_timeout, hard_timeout, priority;
    uint32_t buffer_id, out_port, out_group;
    uint16_t flags;
    struct ofmatch match;
    struct ofinst *insts;           /* owned */
    size_t n_insts;
};
struct ofmsg_flow_removed {
    uint64_t cookie;
    uint16_t priority;
    uint8_t reason, table_id;
    uint32_t duration_sec, duration_nsec;
    uint16_t idle_timeout, hard_timeout;
    uint64_t packet_count, byte_count;
    struct ofmatch match;
};
struct ofmsg_port_status { uint8_t reason; struct ofport port; };
struct ofmsg_role { uint32_t role; uint64_t generation_id; };
struct ofmsg_group_mod {
    uint16_t command;
    uint8_t type;
    uint32_t group_id;
    struct ofbucket *buckets;       /* owned */
    size_t n_buckets;
};
struct ofmsg_meter_mod {
    uint16_t command, flags;
    uint32_t meter_id;
    struct ofband *bands;           /* owned */
    size_t n_bands;
};

struct offlow_stats {
    uint8_t table_id;
    uint32_t duration_sec, duration_nsec;
    uint16_t priority, idle_timeout, hard_timeout, flags;
    uint64_t cookie, packet_count, byte_count;
    struct ofmatch match;
    struct ofinst *insts;           /* owned */
    size_t n_insts;
};
struct ofport_stats {
    uint32_t port_no;
    uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped,
        tx_dropped, rx_errors, tx_errors, rx_frame_err, rx_over_err,
        rx_crc_err, collisions;
    uint32_t duration_sec, duration_nsec;
};
struct ofqueue_stats {
    uint32_t port_no, queue_id;
    uint64_t tx_bytes, tx_packets, tx_errors;
    uint32_t duration_sec, duration_nsec;
};
struct ofmeter_stats {
    uint32_t meter_id, flow_count;
    uint64_t packet_in_count, byte_in_count;
    uint32_t duration_sec, duration_nsec;
    uint64_t *band_packets, *band_bytes;    /* owned, n_bands each */
    size_t n_bands;
};

/* Multipart request bodies. */
struct ofmp_flow_request {
    uint8_t table_id;               /* 0xff: all tables */
    uint32_t out_port, out_group;
    uint64_t cookie, cookie_mask;
    struct ofmatch match;
};

struct ofmsg_multipart {
    uint16_t mp_type;               /* enum ofp_multipart_type */
    uint16_t flags;                 /* OFPMPF_MORE */
    union {
        struct ofmp_flow_request flow;          /* request FLOW */
        uint32_t port_no;                       /* request PORT_STATS */
        struct { uint32_t port_no, queue_id; } queue;   /* request QUEUE */
        uint32_t meter_id;                      /* request METER, METER_CONFIG */
    } req;
    /* Replies: exactly one array is used, per mp_type; owned. */
    struct ofport *ports;
    struct offlow_stats *flows;
    struct ofport_stats *port_stats;
    struct ofqueue_stats *queue_stats;
    struct ofmeter_stats *meter_stats;
    struct ofmsg_meter_mod *meter_configs;      /* METER_CONFIG: command 0 */
    size_t n;
};

struct ofmsg {
    uint8_t version;
    uint8_t type;                   /* enum ofptype */
    uint32_t xid;
    union {
        struct ofmsg_hello hello;
        struct ofmsg_error error;
        struct ofmsg_echo echo;                 /* ECHO_REQUEST, ECHO_REPLY */
        struct ofmsg_features features;         /* FEATURES_REPLY */
        struct ofmsg_config config;             /* GET_CONFIG_REPLY, SET_CONFIG */
        struct ofmsg_packet_in packet_in;
        struct ofmsg_packet_out packet_out;
        struct ofmsg_flow_mod flow_mod;
        struct ofmsg_flow_removed flow_removed;
        struct ofmsg_port_status port_status;
        struct ofmsg_multipart mp;              /* MULTIPART_REQUEST/REPLY */
        struct ofmsg_role role;                 /* ROLE_REQUEST/REPLY */
        struct ofmsg_group_mod group_mod;
        struct ofmsg_meter_mod meter_mod;
    } u;
};

/* Stream framing: given the first 'len' bytes of a stream, returns the
 * length of the first message (>= 8) if its header is complete, 0 if more
 * bytes are needed, or -1 if the header's length field is impossible
 * (< 8), after which the stream cannot be resynchronised. */
long ofmsg_frame(const uint8_t *p, size_t len);

/* Decodes one whole message of 'len' bytes into *msg (which the caller
 * uninits).  Returns OFERR_NONE or the error to report; on error *msg is
 * left empty (safe to uninit). */
enum oferr ofmsg_decode(const uint8_t *p, size_t len, struct ofmsg *msg);
/* Appends the encoding of 'msg' to 'b'.  Returns 0, or EINVAL for a struct
 * that cannot be encoded (unknown type, a message over 65535 bytes), or
 * ENOMEM. */
int ofmsg_encode(const struct ofmsg *msg, struct buf *b);
/* Frees what 'msg' owns and zeroes it. */
void ofmsg_uninit(struct ofmsg *msg);

/* Initialises 'msg' as an empty message of 'type' with 'xid'. */
void ofmsg_init(struct ofmsg *msg, enum ofptype type, uint32_t xid);
/* Initialises 'msg' as a FLOW_MOD (xid 0) of 'command' for the flow at
 * 'table_id' and 'priority' with 'cookie', and the defaults every flow-mod
 * of ours shares: buffer_id OFP_NO_BUFFER, out_port OFPP_ANY, out_group
 * OFPG_ANY, no timeouts, no flags, cookie_mask 0, an empty match, no
 * instructions.  Returns &msg->u.flow_mod for the caller to go on with;
 * what the caller hangs on it is the caller's (ofmsg_uninit frees insts). */
struct ofmsg_flow_mod *ofmsg_flow_mod_init(struct ofmsg *msg,
                                           enum ofp_flow_mod_command command,
                                           uint8_t table_id, uint16_t priority,
                                           uint64_t cookie);

/* Wire helpers shared by the codec's files (ofmatch.c, ofaction.c,
 * ofmsg.c).  Decoders read from 'pl' and return an error; encoders append
 * to 'b'.  List decoders allocate the array they return (caller frees with
 * the matching free function). */
enum oferr ofmatch_decode(struct pull *pl, struct ofmatch *);
void ofmatch_encode(const struct ofmatch *, struct buf *b);
/* The modelled field an OXM header names, or MF__COUNT. */
enum mf ofmatch_field_from_oxm(uint32_t oxm_header);
/* Appends one unmasked OXM TLV (set-field payload). */
void ofmatch_encode_field(enum mf, uint64_t value, struct buf *b);
enum oferr ofaction_decode_list(struct pull *pl, size_t len, struct ofaction **,
                                size_t *n);
void ofaction_encode_list(const struct ofaction *, size_t n, struct buf *b);
enum oferr ofaction_decode_insts(struct pull *pl, size_t len, struct ofinst **,
                                 size_t *n);
void ofaction_encode_insts(const struct ofinst *, size_t n, struct buf *b);
void ofaction_free_list(struct ofaction *, size_t n);
void ofaction_free_insts(struct ofinst *, size_t n);

/* HELLO negotiation: given the peer's HELLO, returns OFERR_NONE if both
 * sides speak OpenFlow 1.3, else OFERR_HELLO_FAILED_INCOMPATIBLE. */
enum oferr ofmsg_hello_negotiate(const struct ofmsg *peer_hello);

/* Builds the OFPT_ERROR answering the rejected message 'request' (its first
 * 64 bytes as data, its xid) into 'b'. */
int ofmsg_encode_error_reply(enum oferr, const uint8_t *request, size_t len,
                             struct buf *b);

/* The xid of a raw message (len >= 8). */
uint32_t ofmsg_xid(const uint8_t *p);

/* Name of a message type, for logs ("FLOW_MOD"). */
const char *ofmsg_type_name(uint8_t type);

#endif
