// KVP (key-value pair exchange) IC wire format: the message type, the message versions the host
// offers, and the exchange bodies after the 28-byte IC headers. Definitions only.
//
// Facts: Linux include/uapi/linux/hyperv.h (hv_kvp_hdr, hv_kvp_exchg_msg_value,
// hv_kvp_msg_enumerate, hv_kvp_msg_delete, hv_kvp_ipaddr_value, hv_kvp_ip_msg, KVP_OP_*,
// KVP_POOL_*, REG_*, HV_S_OK / HV_E_FAIL / HV_S_CONT, the 512 / 2048 byte limits),
// drivers/hv/hv_kvp.c (kvp_versions; the guest answers in place, in the buffer it received,
// so a reply is as long as its request); OpenVMM hyperv_ic_protocol kvp (a get/set/delete/
// enumerate message is always 4 + 2576 bytes; the string-form IP message is 2 + 7426 bytes,
// its body unpadded). Every struct is the exact little-endian wire layout; fields are read and
// written with memcpy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/devices/ic/protocol.h"

namespace hvsim::devices::kvp {

constexpr uint16_t kMsgType = ic::kMsgTypeKvpExchange;

// Message versions offered, highest first: 4.0 (Win8 host), 3.0 (Win7), 1.0 (WS2008). The
// get/set/delete/enumerate layout is the same in all three; the IP-injection operations came
// with Win8, so GET_IP_INFO needs 4.0.
constexpr ic::IcVersion kMessageVersions[] = {{4, 0}, {3, 0}, {1, 0}};
constexpr uint16_t kIpInfoMajor = 4;

// hv_kvp_exchg_op.
constexpr uint8_t kOpGet = 0;
constexpr uint8_t kOpSet = 1;
constexpr uint8_t kOpDelete = 2;
constexpr uint8_t kOpEnumerate = 3;
constexpr uint8_t kOpGetIpInfo = 4;

// hv_kvp_exchg_pool.
constexpr uint8_t kPoolExternal = 0;
constexpr uint8_t kPoolGuest = 1;
constexpr uint8_t kPoolAuto = 2;
constexpr uint8_t kPoolAutoExternal = 3;
constexpr uint8_t kPoolAutoInternal = 4;
constexpr uint8_t kPoolCount = 5;

// value_type (registry types, Linux's numbering; OpenVMM spells a 64-bit value REG_QWORD = 11).
constexpr uint32_t kRegSz = 1;
constexpr uint32_t kRegU32 = 4;
constexpr uint32_t kRegU64 = 8;

// Statuses a KVP reply carries besides S_OK / E_FAIL (ic/protocol.h).
constexpr uint32_t kStatusNoMoreItems = 0x80070103;  // HV_S_CONT: enumeration index past the end

// Limits in bytes, NUL terminator included (UTF-16LE strings).
constexpr size_t kMaxKeySize = 512;
constexpr size_t kMaxValueSize = 2048;
constexpr size_t kAdapterIdUnits = 128;
constexpr size_t kIpAddrUnits = 1024;
constexpr size_t kGatewayUnits = 512;

#pragma pack(push, 1)
// hv_kvp_hdr.
struct KvpHdr {
  uint8_t operation;  // kOp*
  uint8_t pool;       // kPool*
  uint16_t pad;
};
// hv_kvp_exchg_msg_value.
struct KvpValue {
  uint32_t value_type;  // kReg*
  uint32_t key_size;    // bytes, NUL included
  uint32_t value_size;  // bytes (strings: NUL included)
  uint8_t key[kMaxKeySize];
  uint8_t value[kMaxValueSize];  // UTF-16 string, or a u32 / u64 in the first bytes
};
// GET and SET.
struct KvpMsgGetSet {
  KvpHdr hdr;
  KvpValue data;
};
// DELETE.
struct KvpMsgDelete {
  KvpHdr hdr;
  uint32_t key_size;
  uint8_t key[kMaxKeySize];
};
// ENUMERATE.
struct KvpMsgEnumerate {
  KvpHdr hdr;
  uint32_t index;
  KvpValue data;
};
// hv_kvp_ipaddr_value: UTF-16 strings, several addresses separated by ';'.
struct KvpIpAddrValue {
  uint16_t adapter_id[kAdapterIdUnits];
  uint8_t addr_family;  // kAddrFamily*
  uint8_t dhcp_enabled;
  uint16_t ip_addr[kIpAddrUnits];
  uint16_t sub_net[kIpAddrUnits];
  uint16_t gate_way[kGatewayUnits];
  uint16_t dns_addr[kIpAddrUnits];
};
// hv_kvp_ip_msg: GET_IP_INFO (string form, message version 4.0). No pad after operation/pool.
struct KvpIpMsg {
  uint8_t operation;
  uint8_t pool;
  KvpIpAddrValue value;
};
#pragma pack(pop)

static_assert(sizeof(KvpHdr) == 4);
static_assert(sizeof(KvpValue) == 2572);
static_assert(offsetof(KvpValue, key) == 12);
static_assert(offsetof(KvpValue, value) == 524);
static_assert(sizeof(KvpMsgGetSet) == 2576);
static_assert(sizeof(KvpMsgDelete) == 520);
static_assert(sizeof(KvpMsgEnumerate) == 2580);
static_assert(offsetof(KvpMsgEnumerate, data) == 8);
static_assert(sizeof(KvpIpAddrValue) == 7426);
static_assert(offsetof(KvpIpAddrValue, ip_addr) == 258);
static_assert(offsetof(KvpIpAddrValue, sub_net) == 2306);
static_assert(offsetof(KvpIpAddrValue, gate_way) == 4354);
static_assert(offsetof(KvpIpAddrValue, dns_addr) == 5378);
static_assert(sizeof(KvpIpMsg) == 7428);

// What the host sends: every get/set/delete/enumerate message is this long (the largest of the
// four, zero-padded), an IP message sizeof(KvpIpMsg).
constexpr size_t kExchangeMsgSize = sizeof(KvpMsgEnumerate);  // 2580
constexpr size_t kIpMsgSize = sizeof(KvpIpMsg);               // 7428

// addr_family.
constexpr uint8_t kAddrFamilyNone = 0;
constexpr uint8_t kAddrFamilyIpv4 = 1;
constexpr uint8_t kAddrFamilyIpv6 = 2;

}  // namespace hvsim::devices::kvp
