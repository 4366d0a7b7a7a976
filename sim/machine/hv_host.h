// The Hyper-V hypervisor as the machine hosts it: connects the sans-IO models (HvPartition with
// its SynICs, timers and reference TSC page; the hypercall dispatcher) to the vCPUs. It answers
// the synthetic MSRs and the hypervisor CPUID leaves, runs hypercalls for VMCALL/VMMCALL (only
// while the guest has enabled the hypercall page, else #UD), owns the overlay pages, and turns the
// models' requests into machine actions (interrupts, reset and crash verdicts, guest idle).
// Hypercall parameter blocks and the crash message are read and written through the calling VP's
// view of memory (VpMemoryView: an overlay shown to that VP occupies its GPA).
// Message and event routing by connection id goes to whoever registered the connection (the
// VMBus host, tests); an unregistered connection is HV_STATUS_INVALID_CONNECTION_ID.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "models/hv/hypercall/dispatcher.h"
#include "models/hv/partition.h"
#include "sim/cpu/vcpu_exits.h"
#include "sim/machine/msr_handler.h"
#include "sim/machine/overlays.h"
#include "sim/machine/vp_memory_view.h"

namespace hvsim {

// What HvHost needs from the machine.
class HvMachine {
 public:
  virtual ~HvMachine() = default;
  virtual void hv_interrupt(int vp, uint8_t vector) = 0;  // a SINT or direct-timer vector
  virtual void hv_reset() = 0;
  virtual void hv_crash(const hv::CrashReport& r) = 0;
  virtual void hv_idle(int vp) = 0;
  virtual VirtualTime hv_run_time(int vp) = 0;
  virtual uint64_t hv_guest_tsc(int vp, VirtualTime now) = 0;
  virtual void hv_set_page(int vp, uint64_t gpa, std::optional<uint32_t> overlay) = 0;
  virtual uint32_t hv_vcpu_count() const = 0;
};

class HvHost final : public MsrHandler, private hv::HvPlatform, private hv::InterruptSink, private hv::HypercallTarget {
 public:
  HvHost(const hv::PartitionParams& params, GuestMemory& mem, HvMachine& machine, Tracer& tracer);

  bool enabled() const { return partition_.enabled(); }
  std::optional<MsrRead> msr_read(VcpuContext& v, uint32_t msr) override;
  std::optional<bool> msr_write(VcpuContext& v, uint32_t msr, uint64_t value) override;
  HypercallResult hypercall(VcpuContext& v);
  std::optional<VirtualTime> poll(VirtualTime now) { return partition_.poll(now); }
  bool retries_pending() const { return partition_.retries_pending(); }
  hv::HvPartition& partition() { return partition_; }

  // Connection endpoints for HvCallPostMessage / HvCallSignalEvent (§4.5).
  using MessagePort = std::function<uint16_t(int vp, uint32_t type, const uint8_t* payload, uint32_t size)>;
  using EventPort = std::function<uint16_t(int vp, uint16_t flag)>;
  void register_message_port(uint32_t connection_id, MessagePort port) { message_ports_[connection_id] = std::move(port); }
  void register_event_port(uint32_t connection_id, EventPort port) { event_ports_[connection_id] = std::move(port); }
  // Asked for SignalEvent connection ids no registered port claims (the VMBus host's channels,
  // whose ids come and go); it answers HV_STATUS_INVALID_CONNECTION_ID for ids it does not own.
  using EventFallback = std::function<uint16_t(int vp, uint32_t connection_id, uint16_t flag)>;
  void set_event_fallback(EventFallback f) { event_fallback_ = std::move(f); }

 private:
  // hv::HvPlatform
  bool place_overlay(hv::OverlayKind kind, hv::VpIndex vp, std::optional<uint64_t> gpa) override;
  uint8_t* overlay_page(hv::OverlayKind kind, hv::VpIndex vp) override;
  PhysicalMemory& vp_memory(hv::VpIndex vp) override { return views_[vp]; }
  void reset_partition() override { machine_.hv_reset(); }
  void crash_notify(const hv::CrashReport& r) override { machine_.hv_crash(r); }
  void guest_idle(hv::VpIndex vp) override { machine_.hv_idle(static_cast<int>(vp)); }
  VirtualTime vp_run_time(hv::VpIndex vp) override { return machine_.hv_run_time(static_cast<int>(vp)); }
  uint64_t guest_tsc(hv::VpIndex vp, VirtualTime now) override { return machine_.hv_guest_tsc(static_cast<int>(vp), now); }
  // hv::InterruptSink
  void request_interrupt(hv::VpIndex vp, uint8_t vector) override { machine_.hv_interrupt(static_cast<int>(vp), vector); }
  // hv::HypercallTarget
  uint16_t post_message(hv::VpIndex vp, uint32_t connection_id, uint32_t message_type, const uint8_t* payload,
                        uint32_t size) override;
  uint16_t signal_event(hv::VpIndex vp, uint32_t connection_id, uint16_t flag_number) override;
  uint32_t vp_count() const override { return machine_.hv_vcpu_count(); }
  void send_ipi(hv::VpIndex target, uint8_t vector) override { machine_.hv_interrupt(static_cast<int>(target), vector); }
  void flush_tlb(hv::VpIndex) override {}
  void notify_long_spin_wait(hv::VpIndex, uint32_t) override {}
  std::optional<uint64_t> get_vp_register(hv::VpIndex vp, uint32_t name) override;
  uint16_t set_vp_register(hv::VpIndex vp, uint32_t name, uint64_t value) override;

  HvMachine& machine_;
  OverlayPages overlays_;
  std::map<std::pair<hv::OverlayKind, int>, OverlayPages::Id> overlay_ids_;
  std::vector<VpMemoryView> views_;  // one per VP
  hv::HvPartition partition_;
  hv::HypercallDispatcher dispatcher_;
  std::map<uint32_t, MessagePort> message_ports_;
  std::map<uint32_t, EventPort> event_ports_;
  EventFallback event_fallback_;
  VirtualTime now_;  // of the exit being handled (for callbacks that do not carry it)
};

}  // namespace hvsim
