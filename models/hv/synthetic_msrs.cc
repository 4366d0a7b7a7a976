// HvPartition::msr_read / msr_write: the one place synthetic MSR numbers are decoded.
#include <algorithm>

#include "models/hv/cpuid_leaves.h"
#include "models/hv/hvdef_msr.h"
#include "models/hv/partition.h"

namespace hvsim::hv {
namespace {

constexpr MsrValue ok(uint64_t v) { return MsrValue{false, v}; }
constexpr MsrValue gp() { return MsrValue{true, 0}; }
bool is_sint(uint32_t msr) { return msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15; }
bool is_stimer(uint32_t msr) { return msr >= HV_X64_MSR_STIMER0_CONFIG && msr <= HV_X64_MSR_STIMER3_COUNT; }
bool is_crash_param(uint32_t msr) { return msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_CRASH_P4; }
bool is_apic_access(uint32_t msr) { return msr >= HV_X64_MSR_EOI && msr <= HV_X64_MSR_TPR; }

// Shows a SIM/SIEF page at its GPA; true if shown. A GPA outside RAM is no #GP (TLFS: the page is
// just inaccessible) and shows the page nowhere: the overlay also leaves its previous GPA.
bool place_synic_page(HvPlatform& platform, OverlayKind kind, VpIndex vp, const OverlayPage& page) {
  if (page.enabled && platform.place_overlay(kind, vp, page.gpa)) return true;
  platform.place_overlay(kind, vp, std::nullopt);
  return false;
}

}  // namespace

// Every MSR this model implements; the range it owns is 0x40000000-0x400001FF.
bool HvPartition::exists(uint32_t msr) const {
  if (!enabled()) return false;
  bool implemented = msr <= HV_X64_MSR_RESET || msr == HV_X64_MSR_VP_RUNTIME ||
                     (msr >= HV_X64_MSR_TIME_REF_COUNT && msr <= HV_X64_MSR_APIC_FREQUENCY) ||
                     (msr >= HV_X64_MSR_EOI && msr <= HV_X64_MSR_VP_ASSIST_PAGE) ||
                     (msr >= HV_X64_MSR_SCONTROL && msr <= HV_X64_MSR_EOM) || is_sint(msr) || is_stimer(msr) ||
                     msr == HV_X64_MSR_GUEST_IDLE || (msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_TSC_EMULATION_STATUS) ||
                     (msr == HV_X64_MSR_TSC_INVARIANT_CONTROL && params_.host.tsc_invariant_control);
  if (!implemented) return false;
  return !params_.hv.enforce_cpuid || advertised_msr(params_.hv, params_.host, msr);
}

std::optional<MsrValue> HvPartition::msr_read(VpIndex vp, uint32_t msr, VirtualTime now) {
  if (msr < 0x40000000 || msr > 0x400001ff) return std::nullopt;
  if (!exists(msr)) return gp();
  if (is_apic_access(msr)) return std::nullopt;  // the local APIC answers
  Vp& v = *vps_[vp];
  if (is_sint(msr)) return ok(v.synic->sint(msr - HV_X64_MSR_SINT0));
  if (is_stimer(msr)) {
    unsigned n = (msr - HV_X64_MSR_STIMER0_CONFIG) / 2;
    return ok((msr & 1) ? v.timers->count(n) : v.timers->config(n));
  }
  if (is_crash_param(msr)) return ok(state_.crash[msr - HV_X64_MSR_CRASH_P0]);
  switch (msr) {
    case HV_X64_MSR_GUEST_OS_ID: return ok(state_.guest_os_id);
    case HV_X64_MSR_HYPERCALL: return ok(state_.hypercall);
    case HV_X64_MSR_VP_INDEX: return ok(vp);
    case HV_X64_MSR_RESET: return ok(0);
    case HV_X64_MSR_VP_RUNTIME: return ok(reference_time_at(platform_.vp_run_time(vp)));
    case HV_X64_MSR_TIME_REF_COUNT:
      // Partition-wide and monotonic across VPs (§2.1), although each VP reads at its own local
      // time: never below what any VP has read.
      state_.ref_high_water = std::max(state_.ref_high_water, reference_time_at(now));
      return ok(state_.ref_high_water);
    case HV_X64_MSR_REFERENCE_TSC: return ok(state_.reference_tsc);
    case HV_X64_MSR_TSC_FREQUENCY: return ok(tsc_hz_);
    case HV_X64_MSR_APIC_FREQUENCY: return ok(params_.apic_hz);
    case HV_X64_MSR_VP_ASSIST_PAGE: return ok(v.vp_assist);
    case HV_X64_MSR_SCONTROL: return ok(v.synic->scontrol());
    case HV_X64_MSR_SVERSION: return ok(v.synic->sversion());
    case HV_X64_MSR_SIEFP: return ok(v.synic->siefp());
    case HV_X64_MSR_SIMP: return ok(v.synic->simp());
    case HV_X64_MSR_EOM: return ok(0);
    case HV_X64_MSR_GUEST_IDLE:
      platform_.guest_idle(vp);
      return ok(0);
    case HV_X64_MSR_CRASH_CTL: return ok(HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG);
    case HV_X64_MSR_REENLIGHTENMENT_CONTROL: return ok(state_.reenlightenment_control);
    case HV_X64_MSR_TSC_EMULATION_CONTROL: return ok(state_.tsc_emulation_control);
    case HV_X64_MSR_TSC_EMULATION_STATUS: return ok(state_.tsc_emulation_status);
    case HV_X64_MSR_TSC_INVARIANT_CONTROL: return ok(state_.tsc_invariant_control);
    default: return gp();
  }
}

std::optional<bool> HvPartition::msr_write(VpIndex vp, uint32_t msr, uint64_t value, VirtualTime now) {
  if (msr < 0x40000000 || msr > 0x400001ff) return std::nullopt;
  if (!exists(msr)) return false;
  if (is_apic_access(msr)) return std::nullopt;  // the local APIC answers
  Vp& v = *vps_[vp];
  bool done = false;
  if (is_sint(msr)) {
    done = v.synic->set_sint(msr - HV_X64_MSR_SINT0, value, now);
  } else if (is_stimer(msr)) {
    unsigned n = (msr - HV_X64_MSR_STIMER0_CONFIG) / 2;
    done = (msr & 1) ? v.timers->set_count(n, value, now) : v.timers->set_config(n, value, now);
  } else if (is_crash_param(msr)) {
    state_.crash[msr - HV_X64_MSR_CRASH_P0] = value;
    done = true;
  } else {
    switch (msr) {
      case HV_X64_MSR_GUEST_OS_ID:
        state_.guest_os_id = value;
        if (value == 0 && (state_.hypercall & kOverlayEnable)) {  // writing 0 disables the page
          state_.hypercall &= ~kOverlayEnable;
          place_hypercall_page(now);
        }
        done = true;
        break;
      case HV_X64_MSR_HYPERCALL: done = write_hypercall(value, now); break;
      case HV_X64_MSR_RESET:
        if (value & 1) platform_.reset_partition();
        done = true;
        break;
      case HV_X64_MSR_REFERENCE_TSC: done = write_reference_tsc(value, now); break;
      case HV_X64_MSR_VP_ASSIST_PAGE:
        done = write_overlay_msr(OverlayKind::kVpAssist, vp, value, now);
        if (done) v.vp_assist = value;
        break;
      case HV_X64_MSR_SCONTROL: done = v.synic->set_scontrol(value, now); break;
      case HV_X64_MSR_SIEFP: {
        bool shown = place_synic_page(platform_, OverlayKind::kSiefp, vp, v.synic->set_siefp(value));
        v.synic->attach_event_page(shown ? platform_.overlay_page(OverlayKind::kSiefp, vp) : nullptr);
        done = true;
        break;
      }
      case HV_X64_MSR_SIMP: {
        bool shown = place_synic_page(platform_, OverlayKind::kSimp, vp, v.synic->set_simp(value));
        v.synic->attach_message_page(shown ? platform_.overlay_page(OverlayKind::kSimp, vp) : nullptr, now);
        done = true;
        break;
      }
      case HV_X64_MSR_EOM:
        v.synic->set_eom(now);
        done = true;
        break;
      case HV_X64_MSR_CRASH_CTL:
        if (value & HV_CRASH_CTL_CRASH_NOTIFY) crash_notify(vp, value);
        done = true;
        break;
      case HV_X64_MSR_REENLIGHTENMENT_CONTROL:
        done = (value & kReenlightenmentRsvdZ) == 0 && (value >> 32) < params_.vcpu_count;
        if (done) state_.reenlightenment_control = value;
        break;
      case HV_X64_MSR_TSC_EMULATION_CONTROL:
        done = (value & ~1ull) == 0;
        if (done) state_.tsc_emulation_control = value;
        break;
      case HV_X64_MSR_TSC_EMULATION_STATUS:
        done = value == 0;  // the guest may only clear InProgress (KVM #GPs other values)
        if (done) state_.tsc_emulation_status = 0;
        break;
      case HV_X64_MSR_TSC_INVARIANT_CONTROL:
        done = (value & ~1ull) == 0;
        if (done) state_.tsc_invariant_control |= value;  // once set, it cannot be cleared
        break;
      default:  // read-only: VP_INDEX, VP_RUNTIME, TIME_REF_COUNT, frequencies, SVERSION, GUEST_IDLE
        done = false;
        break;
    }
  }
  if (done) trace_write(vp, msr, value, now);
  return done;
}

}  // namespace hvsim::hv
