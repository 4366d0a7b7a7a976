// KVP (key-value pair exchange) IC: what hvsim uses of its wire format — the message type and
// the message versions the host offers (PROTOCOL.md §7.3). Definitions only. The exchange bodies
// (hv_kvp_msg, handled by a guest user-space daemon) are not modelled. Facts: Linux
// drivers/hv/hv_kvp.c (kvp_versions), include/uapi/linux/hyperv.h.
#pragma once

#include "models/devices/ic/protocol.h"

namespace hvsim::devices::kvp {

constexpr uint16_t kMsgType = ic::kMsgTypeKvpExchange;

// Message versions offered, highest first: 4.0 (Win8 host), 3.0 (Win7), 1.0 (WS2008).
constexpr ic::IcVersion kMessageVersions[] = {{4, 0}, {3, 0}, {1, 0}};

}  // namespace hvsim::devices::kvp
