// Machine: the Hyper-V glue — builds the hypervisor model from the parameters, and carries out
// what it asks of the machine (interrupts, overlay pages, reset and crash verdicts, guest idle,
// TSC frequency changes).
#include <cinttypes>
#include <cstdio>

#include "models/hv/cpuid_leaves.h"
#include "sim/core/status.h"
#include "sim/machine/machine.h"

namespace hvsim {

void Machine::build_hypervisor() {
  hv::PartitionParams hp;
  if (params_.hv != "none") hp.hv = hv::parse_enlightenments(params_.hv);  // validate() checked it
  hp.host = hv::host_profile(params_.host);
  hp.vcpu_count = params_.vcpus;
  hp.tsc_hz = params_.tsc_hz;
  hp.apic_hz = params_.apic_hz;
  // The emulated CPU reports AuthenticAMD (cpuid_table.h): its hypercall instruction is VMMCALL.
  hp.vmmcall = true;
  hv_ = std::make_unique<HvHost>(hp, *mem_, static_cast<HvMachine&>(*this), tracer_);
  if (hv_->enabled()) {
    hv::Enlightenments e = hp.hv;
    hv::HostProfile host = hp.host;
    uint32_t n = params_.vcpus;
    cpuid_.set_hypervisor_leaves([e, host, n](int, uint32_t leaf, uint32_t subleaf) -> std::optional<CpuidResult> {
      std::optional<hv::CpuidLeaf> l = hv::hv_cpuid_leaf(e, host, n, leaf, subleaf);
      if (!l) return std::nullopt;
      return CpuidResult{l->eax, l->ebx, l->ecx, l->edx};
    });
    add_msr_handler(hv_.get());
    if (hp.hv.synic && params_.vmbus_devices != "none") {
      VmbusConfig vc{params_.vmbus_devices, params_.device_params, params_.retarget_lag, params_.throttle,
                     params_.monitor_latency};
      vmbus_ = std::make_unique<VmbusBridge>(vc, hp.host, params_.seed, *mem_, *hv_, static_cast<VmbusMachine&>(*this),
                                             tracer_);
    }
  }
}

// Interrupt throttling: the VP stops at once and runs again at `until`; interrupts wait.
void Machine::vmbus_suspend(int vp, VirtualTime until) {
  Slot& s = vcpus_[static_cast<size_t>(vp)];
  s.state = VcpuState::kSuspended;
  s.cpu->request_stop();
  events_.schedule(until, EventPriority::kHost, [this, vp, until] {
    Slot& slot = vcpus_[static_cast<size_t>(vp)];
    if (slot.state != VcpuState::kSuspended) return;
    slot.state = VcpuState::kRunnable;
    tracer_.emit(TracePoint::kVmbusThrottle, until, vp, {TraceField::str_("event", "resumed")});
  });
}

void Machine::hv_interrupt(int vp, uint8_t vector) {
  Slot& s = vcpus_[static_cast<size_t>(vp)];
  hv::SynIc& synic = hv_->partition().synic(static_cast<hv::VpIndex>(vp));
  std::optional<unsigned> sint = synic.sint_for_vector(vector);
  s.apic->accept(vector, sint && synic.auto_eoi(*sint));
  tracer_.emit(TracePoint::kIrqRequest, s.cpu->now(), vp, {TraceField::u64("vector", vector)});
  kick_if_running(vp);
}

void Machine::hv_reset() {
  Verdict v;
  v.kind = Verdict::Kind::kReset;
  v.message = "the guest reset the partition (HV_X64_MSR_RESET)";
  set_verdict(std::move(v));
  for (Slot& s : vcpus_) s.cpu->request_stop();
}

void Machine::hv_crash(const hv::CrashReport& r) {
  Verdict v;
  v.kind = Verdict::Kind::kCrash;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "guest crash notification (CRASH_CTL): P0=0x%" PRIx64 " P1=0x%" PRIx64 " P2=0x%" PRIx64 " P3=0x%" PRIx64
                " P4=0x%" PRIx64,
                r.params[0], r.params[1], r.params[2], r.params[3], r.params[4]);
  v.message = buf;
  v.report = v.message + "\n" + (r.message.empty() ? "" : "  message: " + r.message + "\n");
  set_verdict(std::move(v));
  for (Slot& s : vcpus_) s.cpu->request_stop();
}

void Machine::hv_idle(int vp) {
  Slot& s = vcpus_[static_cast<size_t>(vp)];
  s.state = VcpuState::kIdle;
  s.cpu->request_stop();
}

void Machine::hv_set_page(int vp, uint64_t gpa, std::optional<uint32_t> overlay) {
  vcpus_[static_cast<size_t>(vp)].cpu->set_page_backing(gpa, overlay);
  if (watches_) watches_->refresh();  // a read watch on a SynIC message slot moves with SIMP
}

void Machine::change_tsc_frequency(uint64_t new_hz) {
  uint64_t base = guest_tsc(0, now_) - vcpus_[0].tsc_offset;
  tsc_base_ticks_ = base;
  tsc_base_time_ = now_;
  tsc_hz_ = new_hz;
  for (Slot& s : vcpus_) s.apic->set_tsc_clock(new_hz, now_, base);
  hv_->partition().change_tsc_frequency(new_hz, base, now_);
}

// Polls every model at `at` and sets model_wake_ to their earliest deadline after `at`.
// The wake-up is a plain time the run loop bounds its rounds by, not a queued event: a queued
// one cost two map insertions and a std::function per timer tick, the largest host-side cost of
// an idle guest (bench H2). A deadline at or before `at` was just handled by this poll; the next
// round polls again.
void Machine::poll_models(VirtualTime at) {
  std::optional<VirtualTime> next = hv_->enabled() ? hv_->poll(at) : std::nullopt;
  if (vmbus_) {
    std::optional<VirtualTime> t = vmbus_->poll(at);
    if (t && (!next || *t < *next)) next = t;
  }
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    Slot& s = vcpus_[i];
    sync_apic_tsc(static_cast<int>(i), at);
    std::optional<VirtualTime> t = s.apic->poll(at);
    if (t && (!next || *t < *next)) next = t;
  }
  model_wake_ = next && *next > at ? next : std::nullopt;
  repoll_ = next && *next <= at;
  models_touched_ = false;
}

// Whether a poll at `at` could do anything: false only when no deadline is due, no model has
// retries waiting on guest memory, and no guest exit since the last poll touched a model. Then the
// poll at the end of a round is skipped; it would change nothing (an idle guest's rounds end in
// HLT after an EOI, which touches no model). The exit handlers mark the models touched.
bool Machine::needs_poll(VirtualTime at) const {
  if (models_touched_ || repoll_ || (model_wake_ && *model_wake_ <= at)) return true;
  return (hv_->enabled() && hv_->retries_pending()) || (vmbus_ && vmbus_->retries_pending());
}

// The earliest time something outside the vCPUs happens: a queued event or a model deadline.
std::optional<VirtualTime> Machine::next_wake() const {
  std::optional<VirtualTime> e = events_.next_time();
  if (model_wake_ && (!e || *model_wake_ < *e)) e = model_wake_;
  return e;
}

}  // namespace hvsim
