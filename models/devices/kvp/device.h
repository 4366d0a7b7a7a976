// The KVP (data exchange) integration component (PROTOCOL.md §7.3, class GUID kKvpClass):
// negotiation only. It negotiates framework {3.0, 1.0} and message {4.0, 3.0, 1.0} and then stays
// silent: KVP exchange messages (pool enumeration, get/set, IP injection) are omitted, so the
// guest's daemon never receives a request. Any later guest packet is an unsolicited reply
// ("ic.bad_reply"). Traces: the framework's only.
#pragma once

#include "models/devices/ic/ic.h"

namespace hvsim::devices {

class KvpDevice final : public ic::IcDevice {
 public:
  explicit KvpDevice(vmbus::DeviceDesc desc);
};

}  // namespace hvsim::devices
