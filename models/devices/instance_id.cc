// Deterministic instance GUIDs (contract in instance_id.h).
#include "models/devices/instance_id.h"

#include <cstring>
#include <string>

#include "sim/core/rng.h"

namespace hvsim::devices {

vmbus::Guid derive_instance_id(uint64_t seed, std::string_view instance_name) {
  RngStream rng(seed, "vmbus.instance/" + std::string(instance_name));
  const uint64_t words[2] = {rng.next_u64(), rng.next_u64()};
  vmbus::Guid g;
  std::memcpy(g.bytes.data(), words, sizeof words);
  g.bytes[7] = static_cast<uint8_t>((g.bytes[7] & 0x0F) | 0x40);  // version 4 (data3 high nibble)
  g.bytes[8] = static_cast<uint8_t>((g.bytes[8] & 0x3F) | 0x80);  // variant 10
  return g;
}

}  // namespace hvsim::devices
