// Host profiles: the Windows Server release whose Hyper-V a run imitates (ws2012 ... ws2025).
//
// A profile fixes what depends on the host rather than on the enlightenment flags: the CPUID
// 0x40000002 version (PROTOCOL.md §1.1; real build numbers), the VMBus protocol versions the host
// accepts (§5.2), the per-partition cap on memory shared through GPADLs (§5.10), and two TSC
// capabilities. Profiles are immutable constants; lookups are pure. Omitted: host limits that
// PROTOCOL.md does not give (max VPs per partition, per-GPADL size limits beyond the encoding).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace hvsim::hv {

// CPUID 0x40000002 (PROTOCOL §1.1).
struct HvHostVersion {
  uint32_t build_number = 0;
  uint16_t major_version = 0;
  uint16_t minor_version = 0;
  uint32_t service_pack = 0;
  uint8_t service_branch = 0;
  uint32_t service_number = 0;  // 24 bits
};

struct HostProfile {
  std::string_view name;     // "ws2019"
  std::string_view release;  // "Windows Server 2019"
  HvHostVersion version;
  // VMBus versions the host accepts in INITIATE_CONTACT, as (major << 16) | minor, newest first.
  std::span<const uint32_t> vmbus_versions;
  // Total bytes all of a partition's GPADLs may describe at once (PROTOCOL §5.10).
  uint64_t gpadl_aggregate_cap_bytes = 0;
  // The host exposes TSC_INVARIANT_CONTROL (0x40000118, 0x40000003 EAX b15) with hv-time.
  bool tsc_invariant_control = false;
  // The host scales the guest TSC in hardware, so the TSC frequency survives migration.
  bool tsc_scaling = false;
  // VMBus 6.0 feature flags the host supports (VERSION_RESPONSE2 grants what the guest asked of
  // these); 0 for hosts without 6.0.
  uint32_t vmbus_features = 0;
};

// Throws hvsim::UsageError listing the valid names for an unknown one.
const HostProfile& host_profile(std::string_view name);

// ws2019.
const HostProfile& default_host_profile();

}  // namespace hvsim::hv
