// Reading a device's string parameters (DeviceOptions) into typed values, for the registry.
//
// Durations are a decimal integer with a unit: "500ns", "100us", "50ms", "1s" (no unit: invalid;
// "0" alone is 0). Integers are decimal or 0x-prefixed hex. GUIDs are the canonical 8-4-4-4-12
// hex text ("0e0b6031-5213-4934-818b-38d90ced39db"). Every read records the key; finish()
// rejects the keys never read. Every failure throws hvsim::UsageError naming the device, the
// parameter and what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "models/devices/registry.h"
#include "models/vmbus/protocol.h"
#include "sim/core/virtual_time.h"

namespace hvsim::devices {

class ParamReader {
 public:
  ParamReader(std::string device_type, const DeviceOptions& opts) : type_(std::move(device_type)), opts_(opts) {}

  std::optional<VirtualTime> duration(const std::string& key);
  VirtualTime duration(const std::string& key, VirtualTime fallback) { return duration(key).value_or(fallback); }
  // A value in [min, max].
  uint64_t integer(const std::string& key, uint64_t fallback, uint64_t min, uint64_t max);
  std::optional<vmbus::Guid> guid(const std::string& key);
  // Throws if any parameter was not read (an unknown name), listing the valid ones.
  void finish() const;

 private:
  const std::string* find(const std::string& key);
  [[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& expected) const;

  std::string type_;
  const DeviceOptions& opts_;
  std::set<std::string> known_;
};

}  // namespace hvsim::devices
