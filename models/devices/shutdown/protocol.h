// Shutdown IC wire format (PROTOCOL.md §7.4): the body after the 28-byte IC headers, its flags
// and the message versions the host offers. Definitions only. Facts: Linux
// include/linux/hyperv.h (shutdown_msg_data), drivers/hv/hv_util.c (sd_versions; the guest
// rejects a request shorter than the whole structure, display message included).
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/devices/ic/protocol.h"

namespace hvsim::devices::shutdown {

#pragma pack(push, 1)
struct ShutdownMsgData {
  uint32_t reason_code;
  uint32_t timeout_seconds;
  uint32_t flags;                 // kFlag*
  uint8_t display_message[2048];  // UTF-16, NUL-terminated
};
#pragma pack(pop)
static_assert(sizeof(ShutdownMsgData) == 2060);
static_assert(offsetof(ShutdownMsgData, flags) == 8);
static_assert(offsetof(ShutdownMsgData, display_message) == 12);

constexpr uint32_t kFlagShutdown = 0;  // no bit set: power off
constexpr uint32_t kFlagForce = 1;
constexpr uint32_t kFlagRestart = 2;
constexpr uint32_t kFlagHibernate = 4;

// Message versions offered, highest first.
constexpr ic::IcVersion kMessageVersions[] = {{3, 2}, {3, 1}, {3, 0}, {1, 0}};

}  // namespace hvsim::devices::shutdown
