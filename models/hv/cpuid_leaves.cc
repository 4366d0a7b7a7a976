#include "models/hv/cpuid_leaves.h"

#include <array>

namespace hvsim::hv {
namespace {

// 0x40000000: EAX = kHvsimMaxHypervisorLeaf. DEVNOTE: §1.1 requires at least 0x40000005; QEMU says
// 0x40000005 unless nested bits are on. hvsim reports 0x4000000A, the whole range it answers
// (zeros where it offers nothing), so every leaf it defines is reachable, and stays below
// 0x4000000C so guests never consult the isolation leaf. Linux reads 0x4000000A only to log it or
// with the eVMCS hint, which hvsim never sets.
CpuidLeaf vendor_leaf(const Enlightenments& e) {
  char id[kHvVendorIdMaxLength] = {};
  for (size_t i = 0; i < e.vendor_id.size() && i < kHvVendorIdMaxLength; ++i) id[i] = e.vendor_id[i];
  return {kHvsimMaxHypervisorLeaf, hv_cpuid_chars(id), hv_cpuid_chars(id + 4), hv_cpuid_chars(id + 8)};
}

CpuidLeaf version_leaf(const Enlightenments& e, const HostProfile& host) {
  const HvHostVersion& v = host.version;
  uint32_t major = e.version_major.value_or(v.major_version) & 0xFFFF;
  uint32_t minor = e.version_minor.value_or(v.minor_version) & 0xFFFF;
  uint32_t branch = e.version_sbranch.value_or(v.service_branch) & 0xFF;
  uint32_t number = e.version_snumber.value_or(v.service_number) & kHvServiceNumberMask;
  return {e.version_build.value_or(v.build_number), major << 16 | minor,
          e.version_spack.value_or(v.service_pack), branch << kHvServiceBranchShift | number};
}

// 0x40000003, per PROTOCOL §1.8 (QEMU's kvm_hyperv_properties[]).
CpuidLeaf features_leaf(const Enlightenments& e, const HostProfile& host) {
  CpuidLeaf l;
  if (!any_enlightenment(e)) return l;
  // QEMU sets AccessHypercallMsrs whenever Hyper-V is presented at all (§1.8). DEVNOTE: it also
  // sets EDX b3 (CPU dynamic partitioning); hvsim has no processor hot-add, so it does not.
  l.eax |= kHvAccessHypercallMsrs;
  if (e.runtime) l.eax |= kHvAccessVpRunTimeReg;
  if (e.time) l.eax |= kHvAccessPartitionReferenceCounter | kHvAccessPartitionReferenceTsc;
  // TSC_INVARIANT_CONTROL (§1.2 b15) belongs with the clock enlightenment, and only on hosts
  // that offer it (HostProfile::tsc_invariant_control).
  if (e.time && host.tsc_invariant_control) l.eax |= kHvAccessTscInvariantControls;
  if (e.synic) {
    l.eax |= kHvAccessSynicRegs;
    // VMBus needs HvCallPostMessage / HvCallSignalEvent (§1.3, §1.8), and hvsim always has a
    // VMBus host behind the SynIC.
    l.ebx |= kHvPostMessages | kHvSignalEvents;
  }
  if (e.stimer) l.eax |= kHvAccessSyntheticTimerRegs;
  if (e.vapic) l.eax |= kHvAccessIntrCtrlRegs;
  if (e.vpindex) l.eax |= kHvAccessVpIndex;
  if (e.reset) l.eax |= kHvAccessResetReg;
  if (e.frequencies) {
    l.eax |= kHvAccessFrequencyRegs;
    l.edx |= kHvFrequencyRegsAvailable;
  }
  if (e.reenlightenment) l.eax |= kHvAccessReenlightenmentControls;
  if (e.crash) l.edx |= kHvGuestCrashRegsAvailable;
  if (e.xmm_input) l.edx |= kHvXmmRegistersForFastHypercallAvailable;
  if (e.tlbflush_ext) l.edx |= kHvExtendedGvaRangesForFlushVirtualAddressListAvailable;
  if (e.stimer_direct) l.edx |= kHvDirectSyntheticTimers;
  return l;
}

// 0x40000004, per PROTOCOL §1.6/§1.8. DEVNOTE: hv-reset does not set kHvUseHvRegisterForReset:
// QEMU only makes the MSR available, and its docs say the MSR "is not a recommended way" to reboot.
// ECX (physical address bits) stays 0: the machine's CPUID 0x80000008 already says it.
CpuidLeaf recommendations_leaf(const Enlightenments& e) {
  CpuidLeaf l;
  l.ebx = e.spinlocks;
  if (e.relaxed) l.eax |= kHvUseRelaxedTiming;
  if (e.vapic && !e.avic) l.eax |= kHvUseApicMsrs;  // hv-avic suppresses it (§1.8)
  if (e.tlbflush) l.eax |= kHvUseHypercallForRemoteFlushAndLocalFlushEntire | kHvUseExProcessorMasks;
  if (e.ipi) l.eax |= kHvUseSyntheticClusterIpi | kHvUseExProcessorMasks;
  if (e.avic) l.eax |= kHvDeprecateAutoEoi;
  if (e.no_nonarch_coresharing) l.eax |= kHvNoNonArchitecturalCoreSharing;
  return l;
}

// Which 0x40000003 bit gates each synthetic MSR (§1.2 and §1.8's KVM enforcement map).
enum class Reg { kEax, kEdx };
struct MsrGate {
  uint32_t first, last;
  Reg reg;
  uint32_t bit;
};
constexpr std::array<MsrGate, 18> kMsrGates = {{
    {0x40000000, 0x40000001, Reg::kEax, kHvAccessHypercallMsrs},  // GUEST_OS_ID, HYPERCALL
    {0x40000002, 0x40000002, Reg::kEax, kHvAccessVpIndex},
    {0x40000003, 0x40000003, Reg::kEax, kHvAccessResetReg},
    {0x40000010, 0x40000010, Reg::kEax, kHvAccessVpRunTimeReg},
    {0x40000020, 0x40000020, Reg::kEax, kHvAccessPartitionReferenceCounter},
    {0x40000021, 0x40000021, Reg::kEax, kHvAccessPartitionReferenceTsc},
    {0x40000022, 0x40000023, Reg::kEax, kHvAccessFrequencyRegs},   // TSC/APIC_FREQUENCY
    {0x40000070, 0x40000073, Reg::kEax, kHvAccessIntrCtrlRegs},    // EOI, ICR, TPR, VP_ASSIST
    {0x40000080, 0x40000084, Reg::kEax, kHvAccessSynicRegs},       // SCONTROL..EOM (not SIRBP)
    {0x40000090, 0x4000009F, Reg::kEax, kHvAccessSynicRegs},       // SINT0-15
    {0x400000B0, 0x400000B7, Reg::kEax, kHvAccessSyntheticTimerRegs},
    {0x400000F0, 0x400000F0, Reg::kEax, kHvAccessGuestIdleReg},
    {0x400000F1, 0x400000F5, Reg::kEdx, kHvDebugRegsAvailable},    // SYNDBG_*
    {0x400000FF, 0x400000FF, Reg::kEdx, kHvDebugRegsAvailable},    // SYNDBG_OPTIONS
    {0x40000100, 0x40000105, Reg::kEdx, kHvGuestCrashRegsAvailable},
    {0x40000106, 0x40000108, Reg::kEax, kHvAccessReenlightenmentControls},
    {0x40000114, 0x40000115, Reg::kEdx, kHvSyntheticTimeUnhaltedTimerAvailable},
    {0x40000118, 0x40000118, Reg::kEax, kHvAccessTscInvariantControls},
}};

}  // namespace

std::optional<CpuidLeaf> hv_cpuid_leaf(const Enlightenments& e, const HostProfile& host,
                                       uint32_t vcpu_count, uint32_t leaf, uint32_t /*subleaf*/) {
  switch (leaf) {
    case kHvCpuIdFunctionHvVendorAndMaxFunction:
      return vendor_leaf(e);
    case kHvCpuIdFunctionHvInterface:
      return CpuidLeaf{kHvInterfaceSignatureHv1, 0, 0, 0};
    case kHvCpuIdFunctionMsHvVersion:
      return version_leaf(e, host);
    case kHvCpuIdFunctionMsHvFeatures:
      return features_leaf(e, host);
    case kHvCpuIdFunctionMsHvEnlightenmentInformation:
      return recommendations_leaf(e);
    case kHvCpuIdFunctionMsHvImplementationLimits:
      // EAX: max VPs. The partition's own count is a true lower bound of the host's limit, which
      // PROTOCOL.md does not give per release; EBX (LPs) and ECX (remapping vectors) unknown = 0.
      return CpuidLeaf{vcpu_count, 0, 0, 0};
    case kHvCpuIdFunctionMsHvHardwareFeatures:
      // DEVNOTE: zero even with hv-avic, as QEMU reports it (§1.7: 0x40000006-0x40000009 zero);
      // hv-avic is expressed by kHvDeprecateAutoEoi in 0x40000004 (§1.8).
    case kHvCpuIdFunctionMsHvCpuManagementFeatures:
    case kHvCpuIdFunctionMsHvSvmFeatures:
    case kHvCpuIdFunctionMsHvNestedFeatures:
    case kHvCpuIdFunctionMsHvNestedVirtFeatures:
      return CpuidLeaf{};
    default:
      return std::nullopt;
  }
}

bool advertised_msr(const Enlightenments& e, const HostProfile& host, uint32_t msr) {
  CpuidLeaf features = features_leaf(e, host);
  for (const MsrGate& g : kMsrGates) {
    if (msr < g.first || msr > g.last) continue;
    uint32_t reg = g.reg == Reg::kEax ? features.eax : features.edx;
    return (reg & g.bit) != 0;
  }
  return false;
}

}  // namespace hvsim::hv
