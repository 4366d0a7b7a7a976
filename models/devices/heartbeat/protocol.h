// Heartbeat IC wire format (PROTOCOL.md §7.4): the body after the 28-byte IC headers, and the
// message versions the host offers. Definitions only. Facts: Linux include/linux/hyperv.h
// (heartbeat_msg_data), drivers/hv/hv_util.c (hb_versions).
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/devices/ic/protocol.h"

namespace hvsim::devices::heartbeat {

#pragma pack(push, 1)
// heartbeat_msg_data: the host sends seq_num; the guest replies with seq_num + 1.
struct HeartbeatMsgData {
  uint64_t seq_num;
  uint32_t reserved[8];
};
#pragma pack(pop)
static_assert(sizeof(HeartbeatMsgData) == 40);
static_assert(offsetof(HeartbeatMsgData, seq_num) == 0);

// Message versions offered, highest first.
constexpr ic::IcVersion kMessageVersions[] = {{3, 0}, {1, 0}};

}  // namespace hvsim::devices::heartbeat
