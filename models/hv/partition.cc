#include "models/hv/partition.h"

#include <algorithm>
#include <cstring>

#include "models/hv/hvdef_hypercall.h"
#include "models/hv/hvdef_msr.h"

namespace hvsim::hv {

HvPartition::HvPartition(const PartitionParams& p, HvPlatform& platform, InterruptSink& irq, Tracer& tracer)
    : params_(p), platform_(platform), irq_(irq), tracer_(tracer), ref_tsc_(tracer), tsc_hz_(p.tsc_hz) {
  StimerOptions timer_options;
  timer_options.direct_mode_available = p.hv.stimer_direct || !p.hv.enforce_cpuid;
  for (VpIndex vp = 0; vp < p.vcpu_count; ++vp) {
    auto v = std::make_unique<Vp>();
    v->synic = std::make_unique<SynIc>(vp, irq, tracer);
    v->timers = std::make_unique<SyntheticTimers>(vp, *v->synic, irq, tracer, timer_options);
    vps_.push_back(std::move(v));
  }
}

void HvPartition::trace_write(VpIndex vp, uint32_t msr, uint64_t value, VirtualTime now) {
  tracer_.emit(TracePoint::kHvMsrWrite, now, static_cast<int>(vp), {TraceField::hex("msr", msr), TraceField::hex("value", value)});
}

// HYPERCALL (§2.3): b0 enable (honoured only while GUEST_OS_ID != 0), b1 locked, [11:2] RsvdP,
// [63:12] GPA. Locked: every later write is #GP. A GPA outside RAM is #GP.
bool HvPartition::write_hypercall(uint64_t value, VirtualTime now) {
  if (state_.hypercall & kHypercallLocked) return false;
  uint64_t next = value & (kOverlayEnable | kHypercallLocked | kOverlayGpaMask);
  if (state_.guest_os_id == 0) next &= ~kOverlayEnable;
  uint64_t old = state_.hypercall;
  state_.hypercall = next;
  if (((old ^ next) & (kOverlayEnable | kOverlayGpaMask)) != 0) {
    if (next & kOverlayEnable) {
      if (!platform_.place_overlay(OverlayKind::kHypercall, 0, next & kOverlayGpaMask)) {
        state_.hypercall = old;
        return false;
      }
    }
    place_hypercall_page(now);
  }
  return true;
}

void HvPartition::place_hypercall_page(VirtualTime) {
  if (!(state_.hypercall & kOverlayEnable)) {
    platform_.place_overlay(OverlayKind::kHypercall, 0, std::nullopt);
    return;
  }
  // §3.7: VMCALL or VMMCALL, then RET; the rest of the page INT3.
  uint8_t* page = platform_.overlay_page(OverlayKind::kHypercall, 0);
  std::memset(page, 0xcc, 4096);
  const uint8_t stub[] = {0x0f, 0x01, static_cast<uint8_t>(params_.vmmcall ? 0xd9 : 0xc1), 0xc3};
  std::memcpy(page, stub, sizeof stub);
  platform_.place_overlay(OverlayKind::kHypercall, 0, state_.hypercall & kOverlayGpaMask);
}

// VP_ASSIST_PAGE: every accepted write with Enable shows a zeroed page (as KVM clears it). A
// refused placement (#GP) leaves the page where it was with its content.
bool HvPartition::write_overlay_msr(OverlayKind kind, VpIndex vp, uint64_t value, VirtualTime) {
  std::optional<uint64_t> gpa;
  if (value & kOverlayEnable) gpa = value & kOverlayGpaMask;
  if (!platform_.place_overlay(kind, vp, gpa)) return false;
  if (gpa) std::memset(platform_.overlay_page(kind, vp), 0, 4096);
  return true;
}

// REFERENCE_TSC (§2.4): b0 enable, [11:1] RsvdP, [63:12] GPA.
bool HvPartition::write_reference_tsc(uint64_t value, VirtualTime now) {
  std::optional<uint64_t> gpa;
  if (value & kOverlayEnable) gpa = value & kOverlayGpaMask;
  if (!platform_.place_overlay(OverlayKind::kReferenceTsc, 0, gpa)) return false;
  state_.reference_tsc = value;
  ref_tsc_.attach(gpa ? platform_.overlay_page(OverlayKind::kReferenceTsc, 0) : nullptr);
  if (gpa) publish_reference_tsc(platform_.guest_tsc(0, now), now);
  return true;
}

void HvPartition::publish_reference_tsc(uint64_t guest_tsc_now, VirtualTime now) {
  int64_t offset = offset_for_continuity(guest_tsc_now, tsc_scale_for(tsc_hz_), reference_time_at(now));
  ref_tsc_.publish(tsc_hz_, offset, now);
}

void HvPartition::change_tsc_frequency(uint64_t new_hz, uint64_t guest_tsc_now, VirtualTime now) {
  ref_tsc_.invalidate(now);
  tsc_hz_ = new_hz;
  if (state_.reference_tsc & kOverlayEnable) publish_reference_tsc(guest_tsc_now, now);
  const uint64_t rc = state_.reenlightenment_control;
  if (!(rc & kReenlightenmentEnabled)) return;
  if (state_.tsc_emulation_control & 1) {
    state_.tsc_emulation_status = 1;  // InProgress
    trace_write(static_cast<VpIndex>(rc >> 32), HV_X64_MSR_TSC_EMULATION_STATUS, 1, now);
  }
  const auto target = static_cast<VpIndex>(rc >> 32);
  if (target < vps_.size()) irq_.request_interrupt(target, static_cast<uint8_t>(rc & 0xFF));
}

// CRASH_CTL with CrashNotify (§2.8): report P0..P4, and with CrashMessage the message at P3
// (GPA) of length P4 (at most 4096 bytes; a longer P4 is cut to 4096), read as the writing VP
// sees that memory and cut at the first NUL; an unreadable buffer (outside RAM) gives no message.
void HvPartition::crash_notify(VpIndex vp, uint64_t ctl) {
  CrashReport r;
  r.params = state_.crash;
  if (ctl & HV_CRASH_CTL_CRASH_NOTIFY_MSG) {
    uint64_t len = std::min<uint64_t>(state_.crash[4], kCrashMessageMax);
    std::string msg(len, '\0');
    if (len > 0 && platform_.vp_memory(vp).read(state_.crash[3], msg.data(), len)) {
      msg.resize(std::strlen(msg.c_str()));
      r.message = msg;
    }
  }
  tracer_.emit(TracePoint::kHvCrash, VirtualTime{}, kNoVp,
               {TraceField::hex("p0", r.params[0]), TraceField::hex("p1", r.params[1]), TraceField::hex("p2", r.params[2]),
                TraceField::hex("p3", r.params[3]), TraceField::hex("p4", r.params[4]), TraceField::str_("message", r.message)});
  platform_.crash_notify(r);
}

namespace {

// The synthetic registers whose MSR twin carries the same value (TLFS register names).
std::optional<uint32_t> msr_twin(uint32_t name) {
  if (name >= HV_REGISTER_SINT0 && name <= HV_REGISTER_SINT15) return HV_X64_MSR_SINT0 + (name - HV_REGISTER_SINT0);
  if (name >= HV_REGISTER_STIMER0_CONFIG && name <= HV_REGISTER_STIMER0_CONFIG + 7)
    return HV_X64_MSR_STIMER0_CONFIG + (name - HV_REGISTER_STIMER0_CONFIG);
  if (name >= HV_REGISTER_GUEST_CRASH_P0 && name <= HV_REGISTER_GUEST_CRASH_P4)
    return HV_X64_MSR_CRASH_P0 + (name - HV_REGISTER_GUEST_CRASH_P0);
  switch (name) {
    case HV_REGISTER_GUEST_CRASH_CTL: return HV_X64_MSR_CRASH_CTL;
    case HV_REGISTER_VP_RUNTIME: return HV_X64_MSR_VP_RUNTIME;
    case HV_REGISTER_GUEST_OS_ID: return HV_X64_MSR_GUEST_OS_ID;
    case HV_REGISTER_VP_INDEX: return HV_X64_MSR_VP_INDEX;
    case HV_REGISTER_TIME_REF_COUNT: return HV_X64_MSR_TIME_REF_COUNT;
    case HV_REGISTER_VP_ASSIST_PAGE: return HV_X64_MSR_VP_ASSIST_PAGE;
    case HV_REGISTER_REFERENCE_TSC: return HV_X64_MSR_REFERENCE_TSC;
    case HV_REGISTER_SCONTROL: return HV_X64_MSR_SCONTROL;
    case HV_REGISTER_SVERSION: return HV_X64_MSR_SVERSION;
    case HV_REGISTER_SIEFP: return HV_X64_MSR_SIEFP;
    case HV_REGISTER_SIMP: return HV_X64_MSR_SIMP;
    case HV_REGISTER_EOM: return HV_X64_MSR_EOM;
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<uint64_t> HvPartition::get_vp_register(VpIndex vp, uint32_t name, VirtualTime now) {
  std::optional<uint32_t> msr = msr_twin(name);
  if (!msr || vp >= vps_.size()) return std::nullopt;
  std::optional<MsrValue> r = msr_read(vp, *msr, now);
  if (!r || r->gp) return std::nullopt;
  return r->value;
}

uint16_t HvPartition::set_vp_register(VpIndex vp, uint32_t name, uint64_t value, VirtualTime now) {
  std::optional<uint32_t> msr = msr_twin(name);
  if (!msr || vp >= vps_.size()) return HV_STATUS_INVALID_PARAMETER;
  std::optional<bool> ok = msr_write(vp, *msr, value, now);
  return ok && *ok ? HV_STATUS_SUCCESS : HV_STATUS_INVALID_PARAMETER;
}

bool HvPartition::retries_pending() const {
  for (const auto& v : vps_) {
    if (v->synic->queued_total() != 0) return true;
    for (unsigned n = 0; n < kHvStimerCount; ++n)
      if (v->timers->expiry_pending(n)) return true;
  }
  return false;
}

std::optional<VirtualTime> HvPartition::poll(VirtualTime now) {
  std::optional<VirtualTime> next;
  for (auto& v : vps_) {
    v->synic->poll_pending(now);
    std::optional<VirtualTime> t = v->timers->poll(now);
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

}  // namespace hvsim::hv
