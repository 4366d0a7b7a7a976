// The KVP IC: negotiation only (contract in device.h).
#include "models/devices/kvp/device.h"

#include <iterator>

#include "models/devices/kvp/protocol.h"

namespace hvsim::devices {

KvpDevice::KvpDevice(vmbus::DeviceDesc desc)
    : IcDevice(std::move(desc),
               ic::IcService{kvp::kMsgType, {std::begin(kvp::kMessageVersions), std::end(kvp::kMessageVersions)}, 0}) {}

}  // namespace hvsim::devices
