// The device registry: the one place the VMBus host, the CLI and scenarios create device models
// by type name ("heartbeat", "shutdown", "timesync", "kvp", "test") with string parameters.
//
// Each type's parameters, defaults and behaviour are in models/devices/<type>/README.md. Every
// type also takes: `instance` (its instance GUID, canonical text), `ring_pages_min` and
// `ring_pages_max` (vmbus::RingPageLimits: ring pages per direction the host accepts at
// OPENCHANNEL, 2 and no maximum by default; max >= min). A bad type, an unknown parameter or a
// malformed value throws hvsim::UsageError naming the valid types or the offending parameter.
// Class GUIDs come from models/vmbus/protocol.h (PROTOCOL.md §7.1); without `instance`, the
// instance GUID is derived from (seed, instance name) by derive_instance_id (instance_id.h), so a
// run's offers are repeatable from its seed. Per-device seeded values (the heartbeat's first
// seq_num) come from RngStream(seed, "devices.<type>/<instance name>").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/vmbus/vmbus_device.h"

namespace hvsim::devices {

struct DeviceOptions {
  std::map<std::string, std::string> params;  // "period" -> "1s" etc.
};

// Creates a device by type name; throws hvsim::UsageError naming the valid types or the bad param.
std::unique_ptr<vmbus::VmbusDevice> make_device(const std::string& type, const std::string& instance_name,
                                                const DeviceOptions& opts, uint64_t seed);
// The valid type names, in the order above.
std::vector<std::string> device_types();

}  // namespace hvsim::devices
