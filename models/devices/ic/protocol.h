// Integration-component (util device) framing shared by every IC: the pipe header, the IC message
// header and the version-negotiation body (PROTOCOL.md §7.2, §7.3). Definitions only.
//
// Facts: Linux include/linux/hyperv.h (vmbuspipe_hdr, icmsg_hdr, icmsg_negotiate, ICMSGTYPE_*,
// ICMSGHDRFLAG_*), drivers/hv/hv_util.c (framework versions); the pipe data type from the public
// VMPIPE_PROTOCOL_MESSAGE_TYPE. Every struct is the exact little-endian wire layout (static_asserts
// pin sizes and offsets); fields are read and written with memcpy, never through a cast pointer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hvsim::devices::ic {

#pragma pack(push, 1)
// vmbuspipe_hdr: a message-mode pipe packet header. hvsim sends flags = kPipeData and msgsize =
// the bytes after this header; Linux ignores both and echoes them back unchanged.
struct VmbuspipeHdr {
  uint32_t flags;
  uint32_t msgsize;
};
// ic_version: a framework or message version.
struct IcVersion {
  uint16_t major;
  uint16_t minor;
  bool operator==(const IcVersion&) const = default;
};
// icmsg_hdr.
struct IcmsgHdr {
  IcVersion icverframe;  // framework version
  uint16_t icmsgtype;    // kMsgType*
  IcVersion icvermsg;    // message version
  uint16_t icmsgsize;    // bytes of message body after the two headers
  uint32_t status;       // kStatusOk / kStatusFail
  uint8_t ictransaction_id;
  uint8_t icflags;       // kFlag*
  uint8_t reserved[2];
};
// icmsg_negotiate: followed by icframe_vercnt framework versions, then icmsg_vercnt message versions.
struct IcmsgNegotiate {
  uint16_t icframe_vercnt;
  uint16_t icmsg_vercnt;
  uint32_t reserved;
};
#pragma pack(pop)

static_assert(sizeof(VmbuspipeHdr) == 8);
static_assert(sizeof(IcVersion) == 4);
static_assert(sizeof(IcmsgHdr) == 20);
static_assert(offsetof(IcmsgHdr, icmsgtype) == 4);
static_assert(offsetof(IcmsgHdr, icmsgsize) == 10);
static_assert(offsetof(IcmsgHdr, status) == 12);
static_assert(offsetof(IcmsgHdr, ictransaction_id) == 16);
static_assert(offsetof(IcmsgHdr, icflags) == 17);
static_assert(sizeof(IcmsgNegotiate) == 8);

// Offsets within an IC packet payload (§7.2).
constexpr size_t kIcmsgHdrOffset = sizeof(VmbuspipeHdr);                    // 8
constexpr size_t kIcBodyOffset = sizeof(VmbuspipeHdr) + sizeof(IcmsgHdr);  // 28: ICMSG_HDR
static_assert(kIcBodyOffset == 28);

constexpr uint32_t kPipeData = 1;  // VmPipeMessageData

// icmsgtype (§7.2).
constexpr uint16_t kMsgTypeNegotiate = 0;
constexpr uint16_t kMsgTypeHeartbeat = 1;
constexpr uint16_t kMsgTypeKvpExchange = 2;
constexpr uint16_t kMsgTypeShutdown = 3;
constexpr uint16_t kMsgTypeTimesync = 4;

// icflags.
constexpr uint8_t kFlagTransaction = 1;
constexpr uint8_t kFlagRequest = 2;
constexpr uint8_t kFlagResponse = 4;
// What a host request carries, and what a guest reply must carry.
constexpr uint8_t kFlagsRequest = kFlagTransaction | kFlagRequest;
constexpr uint8_t kFlagsResponse = kFlagTransaction | kFlagResponse;

// status.
constexpr uint32_t kStatusOk = 0;           // S_OK
constexpr uint32_t kStatusFail = 0x80004005;  // E_FAIL

// Framework versions every IC offers, highest first (Linux util fw_versions).
constexpr IcVersion kFrameworkVersions[] = {{3, 0}, {1, 0}};

// Body size of a negotiate message carrying `count` versions: ICMSG_NEGOTIATE_PKT_SIZE(count).
constexpr size_t negotiate_body_size(size_t count) { return sizeof(IcmsgNegotiate) + count * sizeof(IcVersion); }

}  // namespace hvsim::devices::ic
