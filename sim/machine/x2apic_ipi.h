// The part of the local APIC the machine core needs so guests can start and poke other vCPUs:
// IA32_APIC_BASE (enable, x2APIC mode, BSP flag) and the x2APIC MSRs ID, version, TPR, EOI, SVR
// and ICR. ICR writes send fixed IPIs, INIT and STARTUP through an IpiSink. Other APIC registers,
// xAPIC MMIO and the APIC timer belong to the full local-APIC model (FUTURE, hypervisor issue);
// their MSRs are not claimed here.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "sim/machine/msr_handler.h"

namespace hvsim {

class IpiSink {
 public:
  virtual ~IpiSink() = default;
  virtual void ipi_fixed(int from_vp, int to_vp, uint8_t vector) = 0;
  virtual void ipi_init(int from_vp, int to_vp) = 0;
  virtual void ipi_startup(int from_vp, int to_vp, uint8_t vector) = 0;
};

class X2ApicIpi final : public MsrHandler {
 public:
  static constexpr uint32_t kApicBaseDefault = 0xfee00000u;
  X2ApicIpi(unsigned vcpu_count, IpiSink& sink);
  std::optional<MsrRead> msr_read(VcpuContext& v, uint32_t msr) override;
  std::optional<bool> msr_write(VcpuContext& v, uint32_t msr, uint64_t value) override;

 private:
  struct VpState { uint64_t apic_base; uint32_t svr = 0xff; uint32_t tpr = 0; };
  bool x2apic(int vp) const;
  std::vector<VpState> vps_;
  IpiSink& sink_;
};

}  // namespace hvsim
