#include "sim/machine/x2apic_ipi.h"

#include "sim/cpu/x86_defs.h"

namespace hvsim {
namespace {

constexpr uint64_t kApicBaseBsp = 1u << 8, kApicBaseExtd = 1u << 10, kApicBaseEnable = 1u << 11;
constexpr uint32_t kX2ApicFirst = 0x800, kX2ApicLast = 0x8ff;
constexpr uint32_t kRegId = 0x802, kRegVersion = 0x803, kRegTpr = 0x808, kRegEoi = 0x80b, kRegLdr = 0x80d,
                   kRegSvr = 0x80f, kRegIcr = 0x830;
constexpr uint32_t kApicVersion = 0x00050014;  // version 0x14, 6 LVT entries
constexpr unsigned kModeFixed = 0, kModeInit = 5, kModeStartup = 6;

}  // namespace

X2ApicIpi::X2ApicIpi(unsigned vcpu_count, IpiSink& sink) : sink_(sink) {
  for (unsigned vp = 0; vp < vcpu_count; ++vp)
    vps_.push_back(VpState{kApicBaseDefault | kApicBaseEnable | (vp == 0 ? kApicBaseBsp : 0)});
}

bool X2ApicIpi::x2apic(int vp) const {
  uint64_t b = vps_[static_cast<size_t>(vp)].apic_base;
  return (b & kApicBaseEnable) && (b & kApicBaseExtd);
}

std::optional<MsrRead> X2ApicIpi::msr_read(VcpuContext& v, uint32_t msr) {
  VpState& s = vps_[static_cast<size_t>(v.vp())];
  if (msr == x86::kMsrApicBase) return MsrRead{false, s.apic_base};
  if (msr < kX2ApicFirst || msr > kX2ApicLast) return std::nullopt;
  if (!x2apic(v.vp())) return MsrRead{true, 0};
  switch (msr) {
    case kRegId: return MsrRead{false, static_cast<uint64_t>(v.vp())};
    case kRegVersion: return MsrRead{false, kApicVersion};
    case kRegTpr: return MsrRead{false, s.tpr};
    case kRegLdr: return MsrRead{false, (static_cast<uint64_t>(v.vp() >> 4) << 16) | (1u << (v.vp() & 15))};
    case kRegSvr: return MsrRead{false, s.svr};
    case kRegEoi: return MsrRead{true, 0};  // write-only
    default: return std::nullopt;
  }
}

std::optional<bool> X2ApicIpi::msr_write(VcpuContext& v, uint32_t msr, uint64_t value) {
  VpState& s = vps_[static_cast<size_t>(v.vp())];
  if (msr == x86::kMsrApicBase) {
    // Only the enable and x2APIC-mode bits may change; the base and BSP flag are fixed.
    if ((value & ~(kApicBaseEnable | kApicBaseExtd)) != (s.apic_base & ~(kApicBaseEnable | kApicBaseExtd))) return false;
    if ((value & kApicBaseExtd) && !(value & kApicBaseEnable)) return false;  // invalid state
    s.apic_base = value;
    return true;
  }
  if (msr < kX2ApicFirst || msr > kX2ApicLast) return std::nullopt;
  if (!x2apic(v.vp())) return false;
  switch (msr) {
    case kRegTpr: s.tpr = static_cast<uint32_t>(value & 0xff); return true;
    case kRegEoi: return value == 0;
    case kRegSvr: s.svr = static_cast<uint32_t>(value & 0x11ff); return true;
    case kRegIcr: {
      auto vector = static_cast<uint8_t>(value);
      unsigned mode = (value >> 8) & 7;
      auto dest = static_cast<uint32_t>(value >> 32);
      unsigned shorthand = (value >> 18) & 3;
      if (shorthand != 0 || dest >= vps_.size()) return true;  // FUTURE: shorthands, broadcast
      int to = static_cast<int>(dest);
      if (mode == kModeFixed) sink_.ipi_fixed(v.vp(), to, vector);
      else if (mode == kModeInit) sink_.ipi_init(v.vp(), to);
      else if (mode == kModeStartup) sink_.ipi_startup(v.vp(), to, vector);
      return true;
    }
    default: return std::nullopt;
  }
}

}  // namespace hvsim
