// The machine: composition root that owns guest RAM, the vCPUs, the event queue, the seeded RNG
// streams, the tracer and the platform devices, routes every vCPU exit (MSR, CPUID, port I/O,
// TSC, hypercall) to its handler, and runs the vCPUs round-robin on virtual time until a verdict.
//
// Scheduling (machine_run.cc): time advances in rounds. Each round ends at the next boundary:
// now + a seeded quantum length (between half and all of `quantum` instructions, stream
// "sched.quantum"), or the next event, whichever is first. In a round each runnable vCPU, in VP
// order, first takes its highest pending interrupt if it can (IF=1, no STI/MOV-SS shadow), then
// runs until its local time reaches the boundary. Events run between rounds. When every vCPU is
// halted or parked, time jumps to the next event; with no event left, the watchdog verdict ends
// the run. Between rounds the timer models (local APIC timers, synthetic timers) are polled and
// their next deadline becomes a wake-up event, so a timer fires at the round boundary at its
// deadline. Interrupts go through each VP's local APIC model (priority, ISR, EOI). A guest watch
// hit (guest_watches.h) ends its vCPU's round before the watched instruction; read watches are
// refreshed before every round and whenever an overlay page moves.
// Several machines may exist in one process; nothing here is global.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/event_queue.h"
#include "sim/core/rng.h"
#include "sim/core/trace.h"
#include "sim/cpu/unicorn_vcpu.h"
#include "sim/machine/boot_layout.h"
#include "sim/machine/cpuid_table.h"
#include "sim/machine/guest_watches.h"
#include "sim/machine/msr_handler.h"
#include "sim/machine/port_device.h"
#include "sim/machine/uart16550.h"
#include "models/apic/local_apic.h"
#include "sim/machine/hv_host.h"
#include "sim/machine/vmbus_bridge.h"
#include "sim/mem/guest_memory.h"

namespace hvsim {

struct MachineParams {
  std::string guest;                       // ELF path (docs/guest-contract.md)
  unsigned vcpus = 1;                      // 1..64
  uint64_t memory = 64ull << 20;           // bytes: 4 MiB..3 GiB, a multiple of 2 MiB
  uint64_t seed = 1;                       // every random choice derives from it
  uint64_t quantum = 10000;                // instructions per scheduling round (upper bound)
  uint64_t tsc_hz = 2000000000;            // guest TSC; one instruction = one cycle
  VirtualTime max_time = VirtualTime::from_ms(10000);  // watchdog; VirtualTime::max() = none
  bool aps_parked = false;                 // vCPUs 1..N-1 wait for INIT/SIPI
  std::string hv = "hv-passthrough";       // enlightenments (QEMU spelling); "none" = no Hyper-V
  std::string host = "ws2019";             // host profile: ws2012 ... ws2025
  uint64_t apic_hz = 200000000;            // local APIC timer input clock
  bool echo_console = true;                // copy guest console bytes to stdout
  // VMBus host (needs hv-synic): device types offered, "none" = no VMBus host; per-device
  // parameters ("shutdown.at" -> "3s"); retarget lag; interrupt throttling policy.
  std::string vmbus_devices = "heartbeat,shutdown,timesync";
  std::vector<std::pair<std::string, std::string>> device_params;
  VirtualTime retarget_lag;
  vmbus::ThrottlePolicy throttle;
  VirtualTime monitor_latency = VirtualTime::from_us(100);  // 0: offers carry no monitor id
};

// Checks ranges; throws UsageError naming the option.
void validate(const MachineParams& p);

struct Verdict {
  enum class Kind : uint8_t { kNone, kExit, kCrash, kWatchdog, kReset };
  Kind kind = Kind::kNone;
  uint32_t exit_code = 0;
  int vp = kNoVp;
  std::string message;  // one line
  std::string report;   // crash: registers and disassembly
  // Process exit status (docs/guest-contract.md §10).
  int status() const;
  std::string label() const;  // "exit(0)", "crash", "watchdog", "reset"
};

class Machine final : private VcpuExitHandler, private apic::IpiTarget, private HvMachine, private MsrHandler,
                      private MmioHandler, private VmbusMachine {
 public:
  // Loads the guest and builds the machine; throws UsageError on bad parameters or input.
  explicit Machine(const MachineParams& p);
  ~Machine() override;

  // Runs until a verdict. Call once.
  Verdict run();

  // Host-side API (tests, models, scenarios).
  void raise_interrupt(int vp, uint8_t vector);
  void add_port_device(uint16_t first, uint16_t count, PortDevice* dev);
  void add_msr_handler(MsrHandler* h) { msr_handlers_.push_back(h); }
  using HypercallHandler = std::function<HypercallResult(VcpuContext&)>;  // replaces the hypervisor's
  void set_hypercall_handler(HypercallHandler h) { hypercall_ = std::move(h); }
  CpuidTable& cpuid() { return cpuid_; }
  HvHost& hv() { return *hv_; }
  // The VMBus host, or nullptr (no hv-synic, or --vmbus-devices none).
  vmbus::VmbusHost* vmbus() { return vmbus_ ? &vmbus_->host() : nullptr; }
  // Host action (a live migration): the guest-visible TSC runs at `new_hz` from now on; the
  // reference TSC page goes through its invalidate/republish sequence.
  void change_tsc_frequency(uint64_t new_hz);

  // Guest watches (guest_watches.h): exec and read watches that end a vCPU's round.
  GuestWatches& watches() { return *watches_; }
  // The guest ELF's .symtab value of `name`, if it has one.
  std::optional<uint64_t> symbol(const std::string& name) const;
  // Whether guest-virtual `va` lies in a PT_LOAD segment of the guest image.
  bool in_image(uint64_t va) const;

  Tracer& tracer() { return tracer_; }
  EventQueue& events() { return events_; }
  GuestMemory& memory() { return *mem_; }
  RngStream rng(std::string_view stream) const { return RngStream(params_.seed, stream); }
  const MachineParams& params() const { return params_; }
  const BootLayout& boot_layout() const { return boot_; }
  unsigned vcpu_count() const { return static_cast<unsigned>(vcpus_.size()); }
  uint64_t retired(int vp) const { return vcpus_[static_cast<size_t>(vp)].cpu->retired(); }
  VirtualTime now() const { return now_; }
  const std::string& console_output() const { return console_; }

 private:
  // kIdle: GUEST_IDLE, woken by any pending interrupt even with interrupts disabled.
  // kSuspended: throttled by the VMBus host; runs again at its wake-up event, interrupts wait.
  enum class VcpuState : uint8_t { kRunnable, kHalted, kWaitForSipi, kIdle, kSuspended };
  struct Slot {
    std::unique_ptr<UnicornVcpu> cpu;
    std::unique_ptr<apic::LocalApic> apic;
    VcpuState state = VcpuState::kRunnable;
    uint64_t tsc_offset = 0;
  };

  // VcpuExitHandler
  MsrRead on_rdmsr(VcpuContext& v, uint32_t msr) override;
  bool on_wrmsr(VcpuContext& v, uint32_t msr, uint64_t value) override;
  CpuidResult on_cpuid(VcpuContext& v, uint32_t leaf, uint32_t subleaf) override;
  uint32_t on_io_in(VcpuContext& v, uint16_t port, unsigned size) override;
  void on_io_out(VcpuContext& v, uint16_t port, unsigned size, uint32_t value) override;
  uint64_t on_rdtsc(VcpuContext& v) override;
  HypercallResult on_hypercall(VcpuContext& v) override;
  // apic::IpiTarget (machine_apic.cc)
  uint32_t vp_count() const override { return vcpu_count(); }
  void deliver_fixed(uint32_t from_vp, uint32_t to_vp, uint8_t vector) override;
  void deliver_init(uint32_t from_vp, uint32_t to_vp) override;
  void deliver_startup(uint32_t from_vp, uint32_t to_vp, uint8_t vector) override;
  void deliver_nmi(uint32_t from_vp, uint32_t to_vp) override;
  const apic::LocalApic* apic(uint32_t vp) const override;
  // MsrHandler for the local APIC MSRs, MmioHandler for the xAPIC page (machine_apic.cc)
  std::optional<MsrRead> msr_read(VcpuContext& v, uint32_t msr) override;
  std::optional<bool> msr_write(VcpuContext& v, uint32_t msr, uint64_t value) override;
  uint64_t mmio_read(VcpuContext& v, uint64_t offset, unsigned size) override;
  void mmio_write(VcpuContext& v, uint64_t offset, unsigned size, uint64_t value) override;
  // HvMachine (machine_hv.cc)
  void hv_interrupt(int vp, uint8_t vector) override;
  void hv_reset() override;
  void hv_crash(const hv::CrashReport& r) override;
  void hv_idle(int vp) override;
  VirtualTime hv_run_time(int vp) override { return vcpus_[static_cast<size_t>(vp)].cpu->run_time(); }
  uint64_t hv_guest_tsc(int vp, VirtualTime now) override { return guest_tsc(vp, now); }
  void hv_set_page(int vp, uint64_t gpa, std::optional<uint32_t> overlay) override;
  uint32_t hv_vcpu_count() const override { return vcpu_count(); }
  // VmbusMachine (machine_hv.cc)
  void vmbus_suspend(int vp, VirtualTime until) override;
  VirtualTime vmbus_vp_now(int vp) override { return vcpus_[static_cast<size_t>(vp)].cpu->now(); }

  uint64_t guest_tsc(int vp, VirtualTime now) const;
  // The TSC a guest instruction reads: guest_tsc, but never below what any VP read before
  // (vCPUs run a quantum apart; a VP behind in time must not see the clock go backwards).
  uint64_t observed_tsc(int vp, VirtualTime now);
  void build_hypervisor();
  void poll_models(VirtualTime at);
  bool needs_poll(VirtualTime at) const;
  std::optional<VirtualTime> next_wake() const;
  void console_byte(VcpuContext& v, uint8_t byte);
  void flush_console_line(VirtualTime t, int vp);
  void set_verdict(Verdict v);
  void set_crash_verdict(int vp);
  // machine_run.cc
  void run_round(VirtualTime boundary);
  void deliver_pending(Slot& s, int vp);
  VirtualTime next_boundary();

  MachineParams params_;
  Tracer tracer_;
  EventQueue events_;
  std::unique_ptr<GuestMemory> mem_;
  BootLayout boot_;
  CpuidTable cpuid_;
  BlockDecoder decoder_;  // before vcpus_: their block caches use it
  std::vector<Slot> vcpus_;
  Uart16550 uart_;
  std::unique_ptr<HvHost> hv_;
  std::unique_ptr<VmbusBridge> vmbus_;
  std::optional<VirtualTime> model_wake_;  // the models' earliest deadline after the last poll
  bool repoll_ = false;                    // the last poll asked to be polled again at once
  // A guest exit since the last poll may have changed what the models do next (see needs_poll).
  bool models_touched_ = true;
  // Guest-visible TSC: tsc_base_ticks_ at tsc_base_time_, then tsc_hz_ (changes on migration).
  VirtualTime tsc_base_time_;
  uint64_t tsc_base_ticks_ = 0;
  uint64_t tsc_hz_;
  uint64_t tsc_high_water_ = 0;  // highest offset-free TSC value any VP has read
  int running_vp_ = kNoVp;       // the vCPU inside run(), if any
  void kick_if_running(int vp);
  void sync_apic_tsc(int vp, VirtualTime now);
  struct PortRange { uint16_t first, count; PortDevice* dev; };
  std::vector<PortRange> ports_;
  std::vector<MsrHandler*> msr_handlers_;
  HypercallHandler hypercall_;
  RngStream sched_rng_;
  VirtualTime now_;
  Verdict verdict_;
  std::string console_, console_line_;
  bool ran_ = false;
  uint64_t image_hash_ = 0, image_entry_ = 0;
  std::map<std::string, uint64_t> symbols_;
  std::vector<std::pair<uint64_t, uint64_t>> image_ranges_;  // [vaddr, vaddr + memsz) of each PT_LOAD
  std::unique_ptr<GuestWatches> watches_;
};

}  // namespace hvsim
