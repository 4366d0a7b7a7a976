// Deterministic VMBus instance GUIDs (if_instance) for device models.
//
// derive_instance_id(seed, name): the first 16 bytes drawn from RngStream(seed,
// "vmbus.instance/" + name) (sim/core/rng.h: xoshiro256** seeded by splitmix64 over seed XOR
// FNV-1a(stream name)), two u64 little-endian, then stamped as an RFC 4122 version-4 GUID (wire
// byte 7 high nibble = 4, byte 8 top bits = 10). Same seed and name: same GUID on every machine;
// different names give independent GUIDs.
#pragma once

#include <cstdint>
#include <string_view>

#include "models/vmbus/protocol.h"

namespace hvsim::devices {

vmbus::Guid derive_instance_id(uint64_t seed, std::string_view instance_name);

}  // namespace hvsim::devices
