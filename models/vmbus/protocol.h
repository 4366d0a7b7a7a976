// VMBus channel-management and ring-buffer wire definitions (definitions only, no behaviour).
//
// Facts: PROTOCOL.md §5 (channel messages, versions, connection ids), §6 (ring buffers and
// packets), §7.1 (class GUIDs). Sources behind it: Linux include/linux/hyperv.h,
// drivers/hv/hyperv_vmbus.h; OpenVMM vmbus_core protocol.rs; QEMU vmbus-proto.h. Every struct is
// the exact little-endian wire layout (static_asserts pin the sizes); multi-byte fields are read
// and written with memcpy, never through a cast pointer into guest memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hvsim::vmbus {

// --- §5.1 constants ---
constexpr unsigned kVmbusSint = 2;                    // VMBUS_MESSAGE_SINT
constexpr uint32_t kMessageConnectionId = 1;          // versions < 5.0
constexpr uint32_t kMessageConnectionIdV5 = 4;        // INITIATE_CONTACT at >= 5.0
constexpr uint32_t kLegacyEventConnectionId = 2;      // shared interrupt page (< 2.4)
constexpr uint32_t kVmbusMessageType = 1;             // HvCallPostMessage message_type, both ways
constexpr size_t kMaxMessageSize = 240;               // SynIC payload
constexpr uint32_t kMaxRelid = 2047;                  // child_relid is 1..2047
constexpr uint32_t kEventConnectionBase = 0x10000;    // hvsim: event connection id = base + relid
constexpr uint32_t kSiefFlags = 2048;                 // event flags per SINT (TLFS): a flag is 0..2047

// --- §5.2 versions: (major << 16) | minor ---
constexpr uint32_t kVersionWs2008 = 0x0000000D;  // 0.13
constexpr uint32_t kVersionWin7 = 0x00010001;    // 1.1
constexpr uint32_t kVersionWin8 = 0x00020004;    // 2.4
constexpr uint32_t kVersionWin8_1 = 0x00030000;  // 3.0
constexpr uint32_t kVersionWin10 = 0x00040000;   // 4.0
constexpr uint32_t kVersionWin10V41 = 0x00040001;
constexpr uint32_t kVersionWin10V5 = 0x00050000;
constexpr uint32_t kVersionWin10V51 = 0x00050001;
constexpr uint32_t kVersionWin10V52 = 0x00050002;
constexpr uint32_t kVersionWin10V53 = 0x00050003;
constexpr uint32_t kVersionCopper = 0x00060000;    // 6.0: feature flags, VERSION_RESPONSE2
std::string version_name(uint32_t version);  // "5.3"

// --- 6.0 feature flags (INITIATE_CONTACT @20, VERSION_RESPONSE2 @16; PROTOCOL.md §5.5) ---
constexpr uint32_t kFeatureGuestSpecifiedSignalParameters = 0x1;  // OpenChannel2 connection_id, event_flag
constexpr uint32_t kFeatureChannelInterruptRedirection = 0x2;     // OpenChannel2 flags b0
constexpr uint32_t kFeatureModifyConnection = 0x4;                // MODIFY_CONNECTION (25, 26)
constexpr uint32_t kFeatureClientId = 0x8;                        // INITIATE_CONTACT2
constexpr uint32_t kFeatureConfidentialChannels = 0x10;
constexpr uint32_t kFeaturePauseResume = 0x20;                    // PAUSE, PAUSE_RESPONSE, RESUME
constexpr uint32_t kFeatureServerSpecifiedMonitorPages = 0x40;    // VERSION_RESPONSE3

// --- §5.3 message types ---
enum class MsgType : uint32_t {
  kInvalid = 0,
  kOfferChannel = 1,
  kRescindChannelOffer = 2,
  kRequestOffers = 3,
  kAllOffersDelivered = 4,
  kOpenChannel = 5,
  kOpenChannelResult = 6,
  kCloseChannel = 7,
  kGpadlHeader = 8,
  kGpadlBody = 9,
  kGpadlCreated = 10,
  kGpadlTeardown = 11,
  kGpadlTorndown = 12,
  kRelidReleased = 13,
  kInitiateContact = 14,
  kVersionResponse = 15,
  kUnload = 16,
  kUnloadResponse = 17,
  kOpenReservedChannel = 18,
  kCloseReservedChannel = 19,
  kCloseReservedChannelResponse = 20,
  kTlConnectRequest = 21,
  kModifyChannel = 22,
  kTlConnectResult = 23,
  kModifyChannelResponse = 24,
  kModifyConnection = 25,          // 6.0 with kFeatureModifyConnection
  kModifyConnectionResponse = 26,
  kPause = 27,                     // 6.0 with kFeaturePauseResume (hvsim: not supported)
  kPauseResponse = 28,
  kResume = 29,
  kCount = 30,
};
const char* msg_type_name(uint32_t type);  // "OFFERCHANNEL", or "UNKNOWN"

// --- §5.4 message layouts (header included) ---
#pragma pack(push, 1)
struct MsgHeader {
  uint32_t msgtype;
  uint32_t padding;
};
struct Guid {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const Guid&) const = default;
  auto operator<=>(const Guid&) const = default;
};
struct OfferChannel {
  MsgHeader hdr;
  Guid if_type;
  Guid if_instance;
  uint64_t reserved1;
  uint64_t reserved2;
  uint16_t chn_flags;
  uint16_t mmio_megabytes;
  uint8_t user_def[120];
  uint16_t sub_channel_index;
  uint16_t mmio_megabytes_optional;
  uint32_t child_relid;
  uint8_t monitorid;
  uint8_t monitor_allocated;  // b0
  uint16_t is_dedicated_interrupt;  // b0
  uint32_t connection_id;
};
struct RescindChannelOffer { MsgHeader hdr; uint32_t child_relid; };
struct OpenChannel {
  MsgHeader hdr;
  uint32_t child_relid;
  uint32_t openid;
  uint32_t ringbuffer_gpadlhandle;
  uint32_t target_vp;
  uint32_t downstream_ringbuffer_pageoffset;
  uint8_t userdata[120];
};
// OpenChannel2: the OPENCHANNEL every guest sends once it negotiated kFeatureGuestSpecifiedSignalParameters
// or kFeatureChannelInterruptRedirection.
struct OpenChannel2 {
  OpenChannel base;
  uint32_t connection_id;  // the guest's HvCallSignalEvent id for the channel (feature 0x1)
  uint16_t event_flag;     // the SIEF flag the host sets for the channel (feature 0x1)
  uint16_t flags;          // b0: redirect interrupt (feature 0x2)
};
struct OpenChannelResult { MsgHeader hdr; uint32_t child_relid; uint32_t openid; uint32_t status; };
struct CloseChannel { MsgHeader hdr; uint32_t child_relid; };
struct GpadlRangeHeader { uint32_t byte_count; uint32_t byte_offset; };  // then u64 pfn[]
struct GpadlHeader {
  MsgHeader hdr;
  uint32_t child_relid;
  uint32_t gpadl;
  uint16_t range_buflen;
  uint16_t rangecount;
  // GpadlRangeHeader + pfns follow
};
struct GpadlBody { MsgHeader hdr; uint32_t msgnumber; uint32_t gpadl; /* u64 pfn[] */ };
struct GpadlCreated { MsgHeader hdr; uint32_t child_relid; uint32_t gpadl; uint32_t creation_status; };
struct GpadlTeardown { MsgHeader hdr; uint32_t child_relid; uint32_t gpadl; };
struct GpadlTorndown { MsgHeader hdr; uint32_t gpadl; };
struct RelidReleased { MsgHeader hdr; uint32_t child_relid; };
struct InitiateContact {
  MsgHeader hdr;
  uint32_t vmbus_version_requested;
  uint32_t target_vcpu;
  uint64_t interrupt_page_or_sint;  // < 5.0: interrupt page GPA; >= 5.0: b7:0 msg_sint, b15:8 msg_vtl
  uint64_t monitor_page1;
  uint64_t monitor_page2;
};
struct VersionResponse {
  MsgHeader hdr;
  uint8_t version_supported;
  uint8_t connection_state;
  uint16_t padding;
  uint32_t msg_conn_id;
};
struct VersionResponse2 { VersionResponse base; uint32_t supported_features; };
struct ModifyChannel { MsgHeader hdr; uint32_t child_relid; uint32_t target_vp; };
struct ModifyConnection {
  MsgHeader hdr;
  uint64_t parent_to_child_monitor_page;
  uint64_t child_to_parent_monitor_page;
};
struct ModifyConnectionResponse { MsgHeader hdr; uint8_t connection_state; };
struct ModifyChannelResponse { MsgHeader hdr; uint32_t child_relid; uint32_t status; };
#pragma pack(pop)

static_assert(sizeof(MsgHeader) == 8);
static_assert(sizeof(OfferChannel) == 196);
static_assert(sizeof(RescindChannelOffer) == 12);
static_assert(sizeof(OpenChannel) == 148);
static_assert(sizeof(OpenChannel2) == 156);
static_assert(sizeof(VersionResponse2) == 20);
static_assert(sizeof(ModifyConnection) == 24);
static_assert(sizeof(ModifyConnectionResponse) == 9);
static_assert(sizeof(OpenChannelResult) == 20);
static_assert(sizeof(CloseChannel) == 12);
static_assert(sizeof(GpadlHeader) == 20);
static_assert(sizeof(GpadlBody) == 16);
static_assert(sizeof(GpadlCreated) == 20);
static_assert(sizeof(GpadlTeardown) == 16);
static_assert(sizeof(GpadlTorndown) == 12);
static_assert(sizeof(RelidReleased) == 12);
static_assert(sizeof(InitiateContact) == 40);
static_assert(sizeof(VersionResponse) == 16);
static_assert(sizeof(ModifyChannel) == 16);
static_assert(sizeof(ModifyChannelResponse) == 16);

// §5.7: PFNs per GPADL message.
constexpr size_t kGpadlHeaderPfns = 26;
constexpr size_t kGpadlBodyPfns = 28;

// Status values the host answers with (OpenVMM uses NTSTATUS-style codes; Linux tests != 0).
constexpr uint32_t kStatusSuccess = 0;
constexpr uint32_t kStatusUnsuccessful = 0xC0000001;

// --- §6 ring buffers ---
constexpr size_t kPageSize = 4096;
constexpr size_t kRingControlSize = 4096;  // hv_ring_buffer control page
constexpr uint32_t kRingFeatPendingSendSz = 1u << 0;
#pragma pack(push, 1)
struct RingControl {
  uint32_t write_index;
  uint32_t read_index;
  uint32_t interrupt_mask;
  uint32_t pending_send_sz;
  uint32_t reserved1[12];
  uint32_t feature_bits;
};
struct PacketDescriptor {
  uint16_t type;     // VM_PKT_*
  uint16_t offset8;  // payload offset from the packet start, 8-byte units
  uint16_t len8;     // packet length (trailer excluded), 8-byte units
  uint16_t flags;    // b0 COMPLETION_REQUESTED
  uint64_t trans_id;
};
#pragma pack(pop)
static_assert(sizeof(RingControl) == 68);
static_assert(sizeof(PacketDescriptor) == 16);
constexpr size_t kRingReadIndexOffset = 4;
constexpr size_t kRingInterruptMaskOffset = 8;
constexpr size_t kRingPendingSendSzOffset = 12;
constexpr size_t kRingFeatureBitsOffset = 64;
constexpr size_t kPacketTrailerSize = 8;

enum PacketType : uint16_t {
  kPktInvalid = 0x0,
  kPktSynch = 0x1,
  kPktAddXferPageset = 0x2,
  kPktRmXferPageset = 0x3,
  kPktEstablishGpadl = 0x4,
  kPktTeardownGpadl = 0x5,
  kPktDataInband = 0x6,
  kPktDataUsingXferPages = 0x7,
  kPktDataUsingGpadl = 0x8,
  kPktDataUsingGpaDirect = 0x9,
  kPktCancelRequest = 0xA,
  kPktComp = 0xB,
  kPktDataUsingAdditionalPkt = 0xC,
  kPktAdditionalData = 0xD,
};
constexpr uint16_t kPacketFlagCompletionRequested = 1;

// --- §7.1 class GUIDs ---
// Parses "0e0b6031-5213-4934-818b-38d90ced39db" into wire order (first three groups
// little-endian); false on a malformed string.
bool parse_guid(std::string_view text, Guid& out);
std::string guid_string(const Guid& g);
Guid guid(std::string_view text);  // for constants; throws std::invalid_argument if malformed

inline constexpr std::string_view kShutdownClass = "0e0b6031-5213-4934-818b-38d90ced39db";
inline constexpr std::string_view kTimesyncClass = "9527e630-d0ae-497b-adce-e80ab0175caf";
inline constexpr std::string_view kHeartbeatClass = "57164f39-9115-4e78-ab55-382f3bd5422d";
inline constexpr std::string_view kKvpClass = "a9a0f4e7-5a45-4d96-b827-8a841e8c03e6";
// The scriptable `test` device: an hvsim class GUID (not a Hyper-V device).
inline constexpr std::string_view kTestClass = "b7a3a6ad-5f26-4e8b-9b1d-6876736d0001";

}  // namespace hvsim::vmbus
