// The hypervisor CPUID leaves 0x40000000-0x4000000A as an enlightenment configuration and a host
// profile advertise them (PROTOCOL.md §1.1-§1.8), and which synthetic MSRs that advertises (§1.2,
// §1.8 "KVM enforcement map"), for hv-enforce-cpuid. Pure functions of their arguments.
// What each flag sets follows QEMU (§1.8) except where a comment in cpuid_leaves.cc says why not.
// Omitted: nested-virtualization content (0x40000009/0x4000000A stay zero), the isolation leaf
// 0x4000000C and the "VS#1" debugger leaves, which hvsim does not offer.
#pragma once

#include <cstdint>
#include <optional>

#include "models/hv/enlightenments.h"
#include "models/hv/host_profile.h"

namespace hvsim::hv {

struct CpuidLeaf {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool operator==(const CpuidLeaf&) const = default;
};

// The highest hypervisor leaf hvsim reports in 0x40000000 EAX and answers.
inline constexpr uint32_t kHvsimMaxHypervisorLeaf = kHvCpuIdFunctionMsHvNestedVirtFeatures;

// The answer for `leaf` (subleaf ignored: no Hyper-V leaf has subleaves), or std::nullopt outside
// 0x40000000-0x4000000A (the machine then answers zeros). vcpu_count is the partition's VP count.
// The identification leaves 0x40000000-0x40000002 are always present; with no enlightenment on,
// 0x40000003/0x40000004 EAX/0x40000006 carry no bits.
std::optional<CpuidLeaf> hv_cpuid_leaf(const Enlightenments& e, const HostProfile& host,
                                       uint32_t vcpu_count, uint32_t leaf, uint32_t subleaf);

// Whether synthetic MSR `msr` (0x40000000-0x400001FF) is advertised: its privilege/feature bit in
// leaf 0x40000003 is set. False for numbers outside that range and for numbers no MSR has. With
// hv-enforce-cpuid an unadvertised synthetic MSR read or write raises #GP.
bool advertised_msr(const Enlightenments& e, const HostProfile& host, uint32_t msr);

}  // namespace hvsim::hv
