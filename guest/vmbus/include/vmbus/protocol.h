/* vmbus/protocol.h - VMBus wire formats for the guest client (definitions only, no behaviour).
 *
 * Written from PROTOCOL.md §5 (channel messages, versions, connection ids, monitor pages, the
 * legacy shared interrupt page, the 6.0 feature flags, OpenChannel2, VERSION_RESPONSE2 and
 * MODIFY_CONNECTION), §6 (ring buffers and packets). Every struct is the packed little-endian
 * wire layout; _Static_asserts pin the sizes.
 * Messages arrive in SynIC slots owned by the host: the client copies them out before parsing.
 */
#ifndef VMBUS_PROTOCOL_H
#define VMBUS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* ---- §5.1 constants ---- */
#define VMBUS_SINT 2u
#define VMBUS_MESSAGE_CONNECTION_ID 1u    /* versions < 5.0 */
#define VMBUS_MESSAGE_CONNECTION_ID_V5 4u /* INITIATE_CONTACT at >= 5.0 */
#define VMBUS_EVENT_CONNECTION_ID 2u      /* SignalEvent of every channel at 0.13 (§5.9) */
#define VMBUS_MESSAGE_TYPE 1u             /* HvCallPostMessage message_type */
#define VMBUS_MAX_MESSAGE 240u
#define VMBUS_MAX_RELID 2047u
#define VMBUS_FIRST_GPADL 0x000E1E10u

/* ---- §5.2 versions ---- */
#define VMBUS_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define VMBUS_VERSION_WS2008 VMBUS_VERSION(0, 13)
#define VMBUS_VERSION_WIN7 VMBUS_VERSION(1, 1)
#define VMBUS_VERSION_WIN8 VMBUS_VERSION(2, 4)
#define VMBUS_VERSION_WIN8_1 VMBUS_VERSION(3, 0)
#define VMBUS_VERSION_WIN10 VMBUS_VERSION(4, 0)
#define VMBUS_VERSION_WIN10_V4_1 VMBUS_VERSION(4, 1)
#define VMBUS_VERSION_WIN10_V5 VMBUS_VERSION(5, 0)
#define VMBUS_VERSION_WIN10_V5_1 VMBUS_VERSION(5, 1)
#define VMBUS_VERSION_WIN10_V5_2 VMBUS_VERSION(5, 2)
#define VMBUS_VERSION_WIN10_V5_3 VMBUS_VERSION(5, 3)
#define VMBUS_VERSION_WIN10_V6_0 VMBUS_VERSION(6, 0) /* "Copper": feature flags */

/* ---- §5.5 feature flags (INITIATE_CONTACT @20, VERSION_RESPONSE2 @16; 6.0 only) ---- */
#define VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMS 0x1u /* OpenChannel2 connection_id, event_flag */
#define VMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION 0x2u /* OpenChannel2 flags b0 */
#define VMBUS_FEATURE_MODIFY_CONNECTION 0x4u             /* MODIFY_CONNECTION(_RESPONSE) */
#define VMBUS_FEATURE_CLIENT_ID 0x8u                     /* INITIATE_CONTACT2 */
#define VMBUS_FEATURE_CONFIDENTIAL_CHANNELS 0x10u
#define VMBUS_FEATURE_PAUSE_RESUME 0x20u
#define VMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES 0x40u /* VERSION_RESPONSE3 */

/* ---- §5.3 message types ---- */
enum vmbus_msgtype {
    CHANNELMSG_INVALID = 0,
    CHANNELMSG_OFFERCHANNEL = 1,
    CHANNELMSG_RESCIND_CHANNELOFFER = 2,
    CHANNELMSG_REQUESTOFFERS = 3,
    CHANNELMSG_ALLOFFERS_DELIVERED = 4,
    CHANNELMSG_OPENCHANNEL = 5,
    CHANNELMSG_OPENCHANNEL_RESULT = 6,
    CHANNELMSG_CLOSECHANNEL = 7,
    CHANNELMSG_GPADL_HEADER = 8,
    CHANNELMSG_GPADL_BODY = 9,
    CHANNELMSG_GPADL_CREATED = 10,
    CHANNELMSG_GPADL_TEARDOWN = 11,
    CHANNELMSG_GPADL_TORNDOWN = 12,
    CHANNELMSG_RELID_RELEASED = 13,
    CHANNELMSG_INITIATE_CONTACT = 14,
    CHANNELMSG_VERSION_RESPONSE = 15,
    CHANNELMSG_UNLOAD = 16,
    CHANNELMSG_UNLOAD_RESPONSE = 17,
    CHANNELMSG_MODIFYCHANNEL = 22,
    CHANNELMSG_MODIFYCHANNEL_RESPONSE = 24,
    CHANNELMSG_MODIFY_CONNECTION = 25,
    CHANNELMSG_MODIFY_CONNECTION_RESPONSE = 26,
    CHANNELMSG_COUNT = 27,
};

/* ---- §5.4 message layouts (header included) ---- */
struct vmbus_guid {
    uint8_t b[16]; /* wire order: Data1..3 little-endian, Data4 as written */
};

#pragma pack(push, 1)
struct vmbus_msg_header {
    uint32_t msgtype;
    uint32_t padding;
};
struct vmbus_offer_channel {
    struct vmbus_msg_header hdr;
    struct vmbus_guid if_type;
    struct vmbus_guid if_instance;
    uint64_t reserved1, reserved2;
    uint16_t chn_flags;
    uint16_t mmio_megabytes;
    uint8_t user_def[120];
    uint16_t sub_channel_index;
    uint16_t mmio_megabytes_optional;
    uint32_t child_relid;
    uint8_t monitorid;
    uint8_t monitor_allocated;
    uint16_t is_dedicated_interrupt;
    uint32_t connection_id;
};
struct vmbus_relid_msg { /* RESCIND_CHANNELOFFER, CLOSECHANNEL, RELID_RELEASED */
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
};
struct vmbus_open_channel {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t openid;
    uint32_t ringbuffer_gpadlhandle;
    uint32_t target_vp;
    uint32_t downstream_ringbuffer_pageoffset;
    uint8_t userdata[120];
};
struct vmbus_open_channel2 { /* OPENCHANNEL once feature 0x1 or 0x2 was negotiated */
    struct vmbus_open_channel open;
    uint32_t connection_id; /* feature 0x1: the channel's HvCallSignalEvent connection id */
    uint16_t event_flag;    /* feature 0x1: the SIEF SINT2 bit the host sets for the channel */
    uint16_t flags;         /* VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT (feature 0x2) */
};
#define VMBUS_OPEN_FLAG_REDIRECT_INTERRUPT 0x1u
struct vmbus_open_result {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t openid;
    uint32_t status;
};
struct vmbus_gpadl_header {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t gpadl;
    uint16_t range_buflen;
    uint16_t rangecount;
    uint32_t byte_count; /* the single range (Linux style) */
    uint32_t byte_offset;
    /* u64 pfn[] follows */
};
struct vmbus_gpadl_body {
    struct vmbus_msg_header hdr;
    uint32_t msgnumber;
    uint32_t gpadl;
    /* u64 pfn[] follows */
};
struct vmbus_gpadl_created {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t gpadl;
    uint32_t creation_status;
};
struct vmbus_gpadl_teardown {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t gpadl;
};
struct vmbus_gpadl_torndown {
    struct vmbus_msg_header hdr;
    uint32_t gpadl;
};
struct vmbus_initiate_contact {
    struct vmbus_msg_header hdr;
    uint32_t vmbus_version_requested;
    uint32_t target_vcpu;
    /* < 5.0: interrupt page GPA; >= 5.0: b7:0 msg_sint, b15:8 msg_vtl, b63:32 feature_flags (>= 6.0) */
    uint64_t interrupt_page_or_sint;
    uint64_t monitor_page1;
    uint64_t monitor_page2;
};
struct vmbus_version_response {
    struct vmbus_msg_header hdr;
    uint8_t version_supported;
    uint8_t connection_state;
    uint16_t padding;
    uint32_t msg_conn_id;
};
struct vmbus_version_response2 { /* >= 6.0; a 16-byte VERSION_RESPONSE there means no features */
    struct vmbus_version_response resp;
    uint32_t supported_features; /* of those the guest requested */
};
struct vmbus_modify_channel {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t target_vp;
};
struct vmbus_modify_channel_response {
    struct vmbus_msg_header hdr;
    uint32_t child_relid;
    uint32_t status;
};
struct vmbus_modify_connection { /* 6.0, feature 0x4: replace (both GPAs) or drop (both 0) the monitor pages */
    struct vmbus_msg_header hdr;
    uint64_t parent_to_child_monitor_page;
    uint64_t child_to_parent_monitor_page;
};
struct vmbus_modify_connection_response {
    struct vmbus_msg_header hdr;
    uint8_t connection_state; /* VMBUS_CONNECTION_STATE_* */
};
#pragma pack(pop)
#define VMBUS_CONTACT_FEATURES_SHIFT 32u /* feature_flags inside interrupt_page_or_sint (>= 6.0) */
#define VMBUS_CONNECTION_STATE_SUCCESSFUL 0u
#define VMBUS_CONNECTION_STATE_FAILED_UNKNOWN 2u

_Static_assert(sizeof(struct vmbus_guid) == 16, "GUID");
_Static_assert(sizeof(struct vmbus_offer_channel) == 196, "OFFERCHANNEL is 196 bytes");
_Static_assert(offsetof(struct vmbus_offer_channel, child_relid) == 184, "offer child_relid @184");
_Static_assert(offsetof(struct vmbus_offer_channel, connection_id) == 192, "offer connection_id @192");
_Static_assert(sizeof(struct vmbus_relid_msg) == 12, "relid message is 12 bytes");
_Static_assert(sizeof(struct vmbus_open_channel) == 148, "OPENCHANNEL is 148 bytes");
_Static_assert(sizeof(struct vmbus_open_channel2) == 156, "OpenChannel2 is 156 bytes");
_Static_assert(offsetof(struct vmbus_open_channel2, event_flag) == 152, "OpenChannel2 event_flag @152");
_Static_assert(sizeof(struct vmbus_open_result) == 20, "OPENCHANNEL_RESULT is 20 bytes");
_Static_assert(sizeof(struct vmbus_gpadl_header) == 28, "GPADL_HEADER up to the PFN array");
_Static_assert(sizeof(struct vmbus_gpadl_body) == 16, "GPADL_BODY up to the PFN array");
_Static_assert(sizeof(struct vmbus_gpadl_created) == 20, "GPADL_CREATED is 20 bytes");
_Static_assert(sizeof(struct vmbus_gpadl_teardown) == 16, "GPADL_TEARDOWN is 16 bytes");
_Static_assert(sizeof(struct vmbus_gpadl_torndown) == 12, "GPADL_TORNDOWN is 12 bytes");
_Static_assert(sizeof(struct vmbus_initiate_contact) == 40, "INITIATE_CONTACT is 40 bytes");
_Static_assert(sizeof(struct vmbus_version_response) == 16, "VERSION_RESPONSE is 16 bytes");
_Static_assert(sizeof(struct vmbus_version_response2) == 20, "VERSION_RESPONSE2 is 20 bytes");
_Static_assert(sizeof(struct vmbus_modify_channel) == 16, "MODIFYCHANNEL is 16 bytes");
_Static_assert(sizeof(struct vmbus_modify_channel_response) == 16, "MODIFYCHANNEL_RESPONSE is 16 bytes");
_Static_assert(sizeof(struct vmbus_modify_connection) == 24, "MODIFY_CONNECTION is 24 bytes");
_Static_assert(sizeof(struct vmbus_modify_connection_response) == 9, "MODIFY_CONNECTION_RESPONSE is 9 bytes");

/* ---- §5.8 monitor pages: INITIATE_CONTACT names two; the guest sets pending bits in the second ---- */
#define VMBUS_MONITOR_IDS 128u /* monitorid m: trigger_group[m / 32], bit m % 32 */
#define VMBUS_MONITOR_GROUP_BITS 32u
#define VMBUS_OFFER_MONITOR_ALLOCATED 1u /* b0 of offer.monitor_allocated */

#pragma pack(push, 1)
struct vmbus_monitor_page {
    uint32_t trigger_state; /* b3:0 group_enable */
    uint32_t reserved1;
    struct {
        volatile uint32_t pending;
        volatile uint32_t armed;
    } trigger_group[4];
    uint8_t reserved2[24];
    int32_t next_checktime[4][32];
    uint16_t latency[4][32];
    uint8_t reserved3[256];
    struct {
        uint32_t connection_id;
        uint16_t flag_number;
        uint16_t reserved;
    } parameter[4][32];
    uint8_t reserved4[1984];
};
#pragma pack(pop)
_Static_assert(sizeof(struct vmbus_monitor_page) == 4096, "a monitor page is one page");
_Static_assert(offsetof(struct vmbus_monitor_page, trigger_group) == 8, "trigger_group @8");
_Static_assert(offsetof(struct vmbus_monitor_page, latency) == 576, "latency @576");
_Static_assert(offsetof(struct vmbus_monitor_page, parameter) == 1088, "parameter @1088");

/* ---- §5.9 the shared interrupt page (< 2.4), named in INITIATE_CONTACT below 5.0 ---- */
/* Bytes 0..2047: host->guest bitmap; bytes 2048..4095: guest->host bitmap; bit n = child_relid n. */
#define VMBUS_INTERRUPT_PAGE_HALF 2048u

/* §5.7: PFNs per GPADL message. */
#define VMBUS_GPADL_HEADER_PFNS 26u
#define VMBUS_GPADL_BODY_PFNS 28u

/* ---- §6 ring buffers ---- */
#define VMBUS_PAGE_SIZE 4096u
#define VMBUS_RING_FEAT_PENDING_SEND_SZ 1u

struct vmbus_ring_control { /* the 4 KiB control page of one ring */
    volatile uint32_t write_index;
    volatile uint32_t read_index;
    volatile uint32_t interrupt_mask;
    volatile uint32_t pending_send_sz;
    uint32_t reserved1[12];
    volatile uint32_t feature_bits;
};
_Static_assert(offsetof(struct vmbus_ring_control, feature_bits) == 64, "feature_bits @64");

#pragma pack(push, 1)
struct vmbus_packet_desc {
    uint16_t type;
    uint16_t offset8;
    uint16_t len8;
    uint16_t flags;
    uint64_t trans_id;
};
#pragma pack(pop)
_Static_assert(sizeof(struct vmbus_packet_desc) == 16, "packet descriptor is 16 bytes");
#define VMBUS_PACKET_TRAILER 8u

#define VM_PKT_DATA_INBAND 0x6u
#define VM_PKT_COMP 0xBu
#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1u

#endif
