// The CPUID answers every vCPU sees (docs/guest-contract.md §8). Built once from the emulated
// CPU's own answers (so nothing is advertised that it would not execute), minus what hvsim does
// not provide (SVM), plus what hvsim itself emulates: x2APIC, invariant TSC, per-vCPU APIC IDs and
// topology. Hypervisor leaves 0x40000000–0x4FFFFFFF come from a pluggable provider (the Hyper-V
// model); without one, 0x40000000 reports an empty hvsim range. Lookups are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "sim/cpu/vcpu_exits.h"

namespace hvsim {

class CpuidTable {
 public:
  explicit CpuidTable(unsigned vcpu_count);
  CpuidResult lookup(int vp, uint32_t leaf, uint32_t subleaf) const;

  using HypervisorLeaves = std::function<std::optional<CpuidResult>(int vp, uint32_t leaf, uint32_t subleaf)>;
  void set_hypervisor_leaves(HypervisorLeaves p) { hv_ = std::move(p); }

 private:
  unsigned vcpu_count_;
  std::map<std::pair<uint32_t, uint32_t>, CpuidResult> leaves_;
  HypervisorLeaves hv_;
};

}  // namespace hvsim
