// A model that owns some MSRs. Answers std::nullopt for MSRs that are not its own ("not mine"),
// and a #GP outcome for its own MSRs accessed wrongly ("mine, but invalid"), so the machine can
// chain handlers and fall back to #GP only when nobody claims the MSR (OpenVMM's MsrError split).
#pragma once

#include <cstdint>
#include <optional>

#include "sim/cpu/vcpu_exits.h"

namespace hvsim {

class MsrHandler {
 public:
  virtual ~MsrHandler() = default;
  virtual std::optional<MsrRead> msr_read(VcpuContext& v, uint32_t msr) = 0;
  // true: written; false: #GP.
  virtual std::optional<bool> msr_write(VcpuContext& v, uint32_t msr, uint64_t value) = 0;
};

}  // namespace hvsim
