// Machine: the local APIC glue — interrupts into a VP's APIC, IPIs between APICs (including
// INIT and STARTUP, which reset and start vCPUs), and the APIC's MSRs and xAPIC MMIO page.
#include "sim/core/status.h"
#include "sim/machine/machine.h"

namespace hvsim {

void Machine::raise_interrupt(int vp, uint8_t vector) {
  SIM_ASSERT(vp >= 0 && static_cast<size_t>(vp) < vcpus_.size(), "interrupt to a vCPU that does not exist");
  vcpus_[static_cast<size_t>(vp)].apic->accept(vector, false);
  tracer_.emit(TracePoint::kIrqRequest, now_, vp, {TraceField::u64("vector", vector)});
  kick_if_running(vp);
}

// An interrupt for the vCPU that is running now (a self-IPI, its own timer) is taken at once;
// other vCPUs take theirs when their turn in the round starts.
void Machine::kick_if_running(int vp) {
  if (vp == running_vp_ && vcpus_[static_cast<size_t>(vp)].apic->pending_vector()) vcpus_[static_cast<size_t>(vp)].cpu->kick();
}

void Machine::deliver_fixed(uint32_t, uint32_t to_vp, uint8_t vector) { raise_interrupt(static_cast<int>(to_vp), vector); }

void Machine::deliver_nmi(uint32_t, uint32_t) {}  // FUTURE: NMI delivery (vector 2, no IF check)

const apic::LocalApic* Machine::apic(uint32_t vp) const {
  return vp < vcpus_.size() ? vcpus_[vp].apic.get() : nullptr;
}

void Machine::deliver_init(uint32_t from_vp, uint32_t to_vp) {
  if (to_vp == 0) return;  // FUTURE: INIT of the boot vCPU (reset)
  Slot& s = vcpus_[to_vp];
  s.state = VcpuState::kWaitForSipi;
  s.apic->reset();
  tracer_.emit(TracePoint::kInit, vcpus_[from_vp].cpu->now(), static_cast<int>(to_vp), {TraceField::u64("from", from_vp)});
}

void Machine::deliver_startup(uint32_t from_vp, uint32_t to_vp, uint8_t vector) {
  Slot& s = vcpus_[to_vp];
  if (s.state != VcpuState::kWaitForSipi) return;  // a STARTUP IPI is ignored unless INIT came first
  VirtualTime t = vcpus_[from_vp].cpu->now();
  s.cpu->start_real_mode(vector);
  s.cpu->idle_until(t);
  s.state = VcpuState::kRunnable;
  tracer_.emit(TracePoint::kSipi, t, static_cast<int>(to_vp), {TraceField::u64("from", from_vp), TraceField::hex("vector", vector)});
}

namespace {
// HV_X64_MSR_EOI/ICR/TPR exist only with the Hyper-V interface (the partition decides otherwise).
bool hyperv_apic_msr(uint32_t msr) { return msr >= 0x40000070 && msr <= 0x40000072; }
}  // namespace

// The APIC's TSC is the one the guest reads: never below what any VP has read (observed_tsc).
void Machine::sync_apic_tsc(int vp, VirtualTime now) {
  Slot& s = vcpus_[static_cast<size_t>(vp)];
  uint64_t local = guest_tsc(vp, now) - s.tsc_offset;
  uint64_t ahead = tsc_high_water_ > local ? tsc_high_water_ - local : 0;
  s.apic->set_tsc_offset(s.tsc_offset + ahead);
}

std::optional<MsrRead> Machine::msr_read(VcpuContext& v, uint32_t msr) {
  if (hyperv_apic_msr(msr) && !hv_->enabled()) return MsrRead{true, 0};
  sync_apic_tsc(v.vp(), v.now());
  std::optional<apic::MsrAccess> r = vcpus_[static_cast<size_t>(v.vp())].apic->msr_read(msr, v.now());
  if (!r) return std::nullopt;
  return MsrRead{r->gp, r->value};
}

std::optional<bool> Machine::msr_write(VcpuContext& v, uint32_t msr, uint64_t value) {
  if (hyperv_apic_msr(msr) && !hv_->enabled()) return false;
  sync_apic_tsc(v.vp(), v.now());
  apic::LocalApic& a = *vcpus_[static_cast<size_t>(v.vp())].apic;
  std::optional<bool> r = a.msr_write(msr, value, v.now());
  if (r) {
    a.poll(v.now());  // a timer armed in the past fires now
    kick_if_running(v.vp());
  }
  return r;
}

// xAPIC page at 0xFEE00000: 32-bit accesses only; others read 0 and are ignored.
uint64_t Machine::mmio_read(VcpuContext& v, uint64_t offset, unsigned size) {
  models_touched_ = true;
  if (size != 4) return 0;
  return vcpus_[static_cast<size_t>(v.vp())].apic->mmio_read(static_cast<uint32_t>(offset), v.now());
}

void Machine::mmio_write(VcpuContext& v, uint64_t offset, unsigned size, uint64_t value) {
  if (offset != apic::kRegEoi) models_touched_ = true;  // as on_wrmsr: an EOI touches no model
  if (size != 4) return;
  apic::LocalApic& a = *vcpus_[static_cast<size_t>(v.vp())].apic;
  a.mmio_write(static_cast<uint32_t>(offset), static_cast<uint32_t>(value), v.now());
  a.poll(v.now());
  kick_if_running(v.vp());
}

}  // namespace hvsim
