// The Hyper-V partition as a guest sees it: every synthetic MSR (PROTOCOL.md §2, TLFS
// vp-properties/partition-properties/timers) decoded in one table (synthetic_msrs.cc), the
// partition-wide state (guest OS id, hypercall page, reference TSC page, crash and
// reenlightenment registers), and per VP a SynIC and four synthetic timers.
//
// Which MSRs exist: none without any enlightenment; with hv-enforce-cpuid exactly those
// advertised in CPUID 0x40000003; otherwise every MSR hvsim implements (KVM's rule: a guest may use
// all supported enlightenments once the Hyper-V interface is exposed). An MSR that does not
// exist, a write to a read-only one or a reserved-bit violation is #GP. The APIC-access MSRs
// 0x40000070-72 are answered "not mine" when they exist, so the local APIC model handles them.
// Overlay pages, each VP's view of guest memory, reset, crash notification and guest idle go to
// the HvPlatform.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "models/hv/enlightenments.h"
#include "models/hv/host_profile.h"
#include "models/hv/hvdef_msr.h"
#include "models/hv/hv_platform.h"
#include "models/hv/model_support.h"
#include "models/hv/ref_tsc.h"
#include "models/hv/stimer.h"
#include "models/hv/synic.h"

namespace hvsim::hv {

struct PartitionParams {
  Enlightenments hv;
  HostProfile host;
  uint32_t vcpu_count = 1;
  uint64_t tsc_hz = 2000000000;
  uint64_t apic_hz = 200000000;
  bool vmmcall = true;  // hypercall page instruction: VMMCALL (AMD CPUID vendor) or VMCALL
};

// The outcome of an MSR access: nullopt = not a synthetic MSR this model owns.
struct MsrValue { bool gp = false; uint64_t value = 0; };

class HvPartition {
 public:
  HvPartition(const PartitionParams& p, HvPlatform& platform, InterruptSink& irq, Tracer& tracer);

  std::optional<MsrValue> msr_read(VpIndex vp, uint32_t msr, VirtualTime now);
  // true: written; false: #GP.
  std::optional<bool> msr_write(VpIndex vp, uint32_t msr, uint64_t value, VirtualTime now);

  // HvCallGet/SetVpRegisters for the registers that have MSR twins (TLFS register names).
  std::optional<uint64_t> get_vp_register(VpIndex vp, uint32_t name, VirtualTime now);
  uint16_t set_vp_register(VpIndex vp, uint32_t name, uint64_t value, VirtualTime now);

  // Fires due synthetic timers and retries queued messages; returns the next deadline.
  std::optional<VirtualTime> poll(VirtualTime now);
  // Whether a poll has retries to make besides deadlines: queued SynIC messages or timer expiries
  // waiting for a slot (their slot may have been freed by a guest store, which no exit reports).
  bool retries_pending() const;

  bool enabled() const { return any_enlightenment(params_.hv); }
  bool hypercall_page_enabled() const { return state_.hypercall & kOverlayEnable; }
  const PartitionParams& params() const { return params_; }
  SynIc& synic(VpIndex vp) { return *vps_[vp]->synic; }

  // Host action (a live migration): the guest-visible TSC frequency changes at `now`. The
  // reference TSC page is invalidated (sequence 0) then republished for the new frequency. With
  // reenlightenment enabled (§2.9: REENLIGHTENMENT_CONTROL b16) the target VP gets the control's
  // vector, and with TSC_EMULATION_CONTROL b0 TSC_EMULATION_STATUS.InProgress is set until the
  // guest writes 0. (hvsim's TSC reads are exact at every frequency: "emulation" changes nothing
  // else.)
  void change_tsc_frequency(uint64_t new_hz, uint64_t guest_tsc_now, VirtualTime now);

 private:
  struct Vp {
    std::unique_ptr<SynIc> synic;
    std::unique_ptr<SyntheticTimers> timers;
    uint64_t vp_assist = 0;
  };
  struct State {
    uint64_t guest_os_id = 0;
    uint64_t hypercall = 0;
    uint64_t reference_tsc = 0;
    std::array<uint64_t, 5> crash{};
    uint64_t reenlightenment_control = 0;
    uint64_t tsc_emulation_control = 0;
    uint64_t tsc_emulation_status = 0;
    uint64_t tsc_invariant_control = 0;
    uint64_t ref_high_water = 0;  // highest TIME_REF_COUNT any VP has read
  };

  bool exists(uint32_t msr) const;
  bool write_hypercall(uint64_t value, VirtualTime now);
  void place_hypercall_page(VirtualTime now);
  bool write_reference_tsc(uint64_t value, VirtualTime now);
  void publish_reference_tsc(uint64_t guest_tsc_now, VirtualTime now);
  bool write_overlay_msr(OverlayKind kind, VpIndex vp, uint64_t value, VirtualTime now);
  void crash_notify(VpIndex vp, uint64_t ctl);
  void trace_write(VpIndex vp, uint32_t msr, uint64_t value, VirtualTime now);

  PartitionParams params_;
  HvPlatform& platform_;
  InterruptSink& irq_;
  Tracer& tracer_;
  std::vector<std::unique_ptr<Vp>> vps_;
  ReferenceTscPage ref_tsc_;
  uint64_t tsc_hz_;
  State state_;
};

}  // namespace hvsim::hv
