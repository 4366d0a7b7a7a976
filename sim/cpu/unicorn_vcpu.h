// One x86-64 vCPU on its own Unicorn 2.1 engine, over the machine's shared guest RAM.
//
// run(budget) executes until about `budget` instructions have retired (the quantum ends at a block
// boundary: a block hook counts each block's instructions from the Capstone BlockCache and stops
// before the block that would exceed the budget), or until HLT, a host stop request, or a crash.
// Inside run() the vCPU turns Unicorn hooks into VcpuExitHandler calls: CPUID and port I/O by
// instruction hooks, RDMSR/WRMSR/RDTSC/RDTSCP by per-site code hooks found by the block scanner,
// VMCALL/VMMCALL by the invalid-instruction hook. Exceptions are delivered through the guest IDT
// by the host (x86_delivery), SYSCALL is emulated, and privilege changes go through CpuStateBlob.
//
// Local time: now() = epoch + (cycles since epoch) at the TSC rate, where a cycle is one retired
// instruction or one cycle of modelled exit cost. idle_until() moves the epoch while halted.
// Nothing here throws out of a Unicorn callback.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/trace.h"
#include "sim/core/virtual_time.h"
#include "sim/cpu/block_cache.h"
#include "sim/cpu/cpu_state_blob.h"
#include "sim/cpu/vcpu_exits.h"
#include "sim/cpu/x86_delivery.h"
#include "sim/mem/guest_memory.h"

struct uc_struct;

namespace hvsim {

struct VcpuParams {
  int vp = 0;
  uint64_t tsc_hz = 2000000000;
};

// The boot state a vCPU starts in (docs/guest-contract.md §4).
struct LongModeBootState {
  uint64_t rip = 0, rsp = 0, rdi = 0, rsi = 0;
  uint64_t cr3 = 0;
  uint64_t gdt_base = 0; uint16_t gdt_limit = 0;
  uint64_t tss_base = 0;
};

enum class StopReason : uint8_t {
  kBudget,         // quantum spent
  kHalt,           // HLT executed; the vCPU is idle
  kStopRequested,  // an exit handler asked to stop (guest exit, reset...)
  kCrash,          // unhandled exception, triple fault, access outside RAM: see crash_report()
  kKicked,         // kick(): an interrupt may be deliverable now; the caller delivers and resumes
  kWatch,          // a guest watch was hit: stopped before the watched instruction (watch_hit())
};

// Where a guest watch stopped the vCPU (unicorn_vcpu_watches.cc): before the instruction at `rip`,
// which is at a watched address (`read` false) or reads [gpa, gpa + size) of watched memory.
struct WatchHit {
  std::vector<uint32_t> ids;  // every watch it hit, ascending
  uint64_t rip = 0;
  bool read = false;
  uint64_t gpa = 0;
  unsigned size = 0;
};

class UnicornVcpu final : public VcpuContext {
 public:
  // Throws UsageError if the engine cannot be created or this Unicorn build's CPU-state layout is
  // not the one hvsim was written against.
  // `decoder` is the machine's, shared by its vCPUs; it must outlive this vCPU.
  UnicornVcpu(const VcpuParams& p, GuestMemory& mem, VcpuExitHandler& exits, Tracer& tracer, BlockDecoder& decoder);
  ~UnicornVcpu() override;
  UnicornVcpu(const UnicornVcpu&) = delete;
  UnicornVcpu& operator=(const UnicornVcpu&) = delete;

  void set_long_mode_boot_state(const LongModeBootState& s);
  // INIT then SIPI: real mode at CS:IP = (vector << 8):0000.
  void start_real_mode(uint8_t sipi_vector);

  StopReason run(uint64_t budget_insns);

  // Ends the current run() after the current instruction (kKicked), so that an interrupt this
  // vCPU raised for itself is taken at once rather than at the next scheduling round.
  void kick();

  // An interrupt is pending but masked (IF=0): stop (kKicked) at the first block boundary where
  // IF=1, so it is taken right after the guest re-enables interrupts (Unicorn cannot hook STI).
  void request_interrupt_window() { want_irq_window_ = true; }

  // Pending external interrupts are delivered only when this is true (IF=1, no STI/MOV-SS shadow).
  bool can_take_interrupt();
  // Delivers an external interrupt through the IDT now; false if it crashed the vCPU.
  bool deliver_external(uint8_t vector);

  // Shows overlay page `overlay` (GuestMemory::OverlayPage::index) at page-aligned `gpa` for this
  // vCPU only, or the guest's RAM again (nullopt), and drops code translated from that page. An
  // overlay the guest may not write is write-protected in the engine: a guest store to it raises
  // #GP(0) at the storing instruction (store_locator.h).
  void set_page_backing(uint64_t gpa, std::optional<uint32_t> overlay);

  // Maps a device region at guest-physical [base, base + size) for this vCPU (page-aligned,
  // outside RAM). Accesses go to `handler` with this vCPU as context.
  void map_mmio(uint64_t base, uint64_t size, MmioHandler& handler);

  // Guest watches (unicorn_vcpu_watches.cc). Watch `id` stops run() (kWatch) before this vCPU
  // executes the instruction at guest-virtual `rip` (set_exec_watch), or before an instruction
  // that reads any byte of the guest-physical `ranges` (set_read_watch; none = removed). The
  // instruction then runs when run() is called again, without hitting the same watches twice
  // (unless an interrupt taken at the stop returns to it: that is a new arrival, and hits again).
  // Hooks change only while the engine is stopped: a change made from an exit handler ends the
  // current instruction's run and is applied before the engine starts again.
  struct GpaRange {
    uint64_t gpa = 0, size = 0;
    bool operator==(const GpaRange&) const = default;
  };
  void set_exec_watch(uint32_t id, std::optional<uint64_t> rip);
  void set_read_watch(uint32_t id, std::vector<GpaRange> ranges);
  const WatchHit& watch_hit() const { return watch_hit_; }

  uint64_t retired() const { return retired_; }
  // Virtual time spent executing (retired instructions and exit costs), not idle.
  VirtualTime run_time() const { return tsc_.time_of(retired_ + total_extra_cycles_); }
  // Virtual time at which the quantum budget to reach `t` is spent, as an instruction budget.
  uint64_t budget_to_reach(VirtualTime t) const;
  void idle_until(VirtualTime t);
  const std::string& crash_report() const { return crash_report_; }
  const std::string& crash_summary() const { return crash_summary_; }

  // VcpuContext
  int vp() const override { return params_.vp; }
  VirtualTime now() const override;
  uint64_t reg(Reg r) const override;
  void set_reg(Reg r, uint64_t v) override;
  void read_xmm(unsigned n, uint64_t out[2]) const override;
  void write_xmm(unsigned n, const uint64_t in[2]) override;
  unsigned cpl() override;
  bool in_64bit_mode() override;
  uint64_t native_msr_read(uint32_t msr) override;
  void native_msr_write(uint32_t msr, uint64_t value) override;
  void add_cycles(uint64_t cycles) override { extra_cycles_ += cycles; total_extra_cycles_ += cycles; }
  void request_stop() override;

  // CPUID as the emulated CPU answers it natively (no hook), for each (leaf, subleaf); used to
  // build a table that advertises only what the emulated CPU really executes.
  static std::vector<CpuidResult> native_cpuid(const std::vector<std::pair<uint32_t, uint32_t>>& leaves);

 private:
  struct PendingException { uint8_t vector; uint64_t rip; bool from_site; uint32_t error; bool is_int; };

  static void hook_block(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
  static void hook_site(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
  static void hook_intr(uc_struct* uc, uint32_t intno, void* self);
  static bool hook_invalid(uc_struct* uc, void* self);
  static uint32_t hook_in(uc_struct* uc, uint32_t port, int size, void* self);
  static void hook_out(uc_struct* uc, uint32_t port, int size, uint32_t value, void* self);
  static int hook_cpuid(uc_struct* uc, void* self);
  static void hook_syscall(uc_struct* uc, void* self);
  static uint64_t mmio_read_cb(uc_struct* uc, uint64_t offset, unsigned size, void* region);
  static void mmio_write_cb(uc_struct* uc, uint64_t offset, unsigned size, uint64_t value, void* region);
  static bool hook_unmapped(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
  static bool hook_write_prot(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);
  static void hook_watch_exec(uc_struct* uc, uint64_t addr, uint32_t size, void* self);
  static void hook_watch_read(uc_struct* uc, int type, uint64_t addr, int size, int64_t value, void* self);

  void on_new_block(uint64_t addr, uint32_t size);
  void watches_changed();
  void apply_watches();
  bool repeats_stopped_instruction(uint64_t rip) const;
  bool stop_if_exec_watched(uint64_t rip);  // true: a watch stops the engine before `rip`
  void stop_for_watch(WatchHit hit);
  void hook_sites(const BlockInfo& b);
  void resume_at_block(uint64_t linear);
  void stop_after_current();
  void drop_stale_translations();
  uint64_t write_fault_rip(uint64_t gpa);
  void handle_site(const TrapSite& site);
  // Retired instructions at the instruction at `rip` (not counting it), correcting the block count.
  uint64_t retired_before(uint64_t rip) const;
  // The same for the port I/O instruction whose hook is running (see BlockInfo::io_offsets).
  uint64_t retired_before_io();
  void sync_exact_position();

  bool handle_exception(PendingException e);
  bool raise(x86::Event ev, uint64_t rip, uint64_t cr2, bool set_cr2);
  bool apply_delivery(const x86::DeliveryResult& d);
  x86::InterruptedState interrupted_state(uint64_t rip);
  void emulate_syscall();
  bool run_hypercall(uint64_t rip);
  void crash(const std::string& summary, uint64_t rip);
  x86::PagingMode paging() const;
  CpuStateBlob& snapshot();

  VcpuParams params_;
  ClockRate tsc_;
  GuestMemory& mem_;
  VcpuExitHandler& exits_;
  Tracer& tracer_;
  uc_struct* uc_ = nullptr;
  uint8_t* alias_ = nullptr;
  std::unique_ptr<CpuStateBlob> blob_;
  BlockCache cache_;
  std::unique_ptr<PhysicalMemory> phys_;

  // Counting and time.
  uint64_t retired_ = 0;
  uint64_t quantum_retired_ = 0;
  uint64_t budget_ = 0;
  const BlockInfo* cur_block_ = nullptr;
  size_t io_ordinal_ = 0;  // I/O exits seen in the current block
  VirtualTime epoch_;
  uint64_t retired_at_epoch_ = 0;
  uint64_t extra_cycles_ = 0;
  uint64_t total_extra_cycles_ = 0;
  struct MmioRegion { UnicornVcpu* vcpu; MmioHandler* handler; };
  std::vector<std::unique_ptr<MmioRegion>> mmio_;
  // Exact position while a hook runs (a site or an I/O exit in mid-block).
  std::optional<uint64_t> exact_retired_;
  std::optional<uint64_t> stop_retired_;  // retired count at a stop an exit handler requested
  bool running_ = false;                  // inside uc_emu_start
  bool blob_current_ = false;             // blob_ equals the engine's state (see snapshot())
  bool kicked_ = false;
  bool want_irq_window_ = false;
  uint64_t window_blocks_ = 0;  // blocks run while want_irq_window_ (see hook_block)
  unsigned if_may_have_risen_ = 0;  // block starts left to check after a may_set_if block
  static constexpr uint64_t kWindowCheckBlocks = 8;
  bool halted_cleanly_ = false;           // the last stop was HLT (which ends any interrupt shadow)
  bool exception_in_flight_ = false;      // QEMU raised an exception since its state was last cleared
  std::vector<uint64_t> stale_pages_;     // pages whose translations must be dropped
  std::set<uint64_t> read_only_pages_;    // pages showing an overlay the guest may not write
  std::set<uint64_t> protected_pages_;    // pages the engine write-protects now
  std::optional<uint64_t> write_prot_gpa_;  // a guest store to a write-protected page stopped the engine

  // Why the engine stopped.
  bool stop_budget_ = false;
  bool stop_requested_ = false;
  bool restart_ = false;  // new trap sites hooked: rerun the block
  std::optional<uint64_t> stop_block_;  // linear address of the block a hook stopped before
  const BlockInfo* new_sites_ = nullptr;  // a block whose trap sites must be hooked
  std::set<uint64_t> hooked_sites_;        // addresses with a site hook in this engine
  bool pending_syscall_ = false;
  std::optional<uint64_t> pending_hypercall_;  // VMCALL/VMMCALL the engine stopped at
  bool trace_blocks_ = false;
  std::optional<PendingException> pending_exc_;
  std::optional<uint64_t> unmapped_addr_;
  int unmapped_type_ = 0;
  uint64_t unmapped_rip_ = 0;

  // Guest watches (unicorn_vcpu_watches.cc).
  struct ExecHook { size_t hook = 0; std::set<uint32_t> ids; };  // hook: a uc_hook
  struct ReadRange { uint64_t first, last; uint32_t id; };
  std::map<uint32_t, uint64_t> exec_watches_;          // id -> rip
  std::map<uint32_t, std::vector<GpaRange>> read_watches_;
  std::map<uint64_t, ExecHook> exec_hooks_;            // rip -> its hook (as applied)
  std::vector<ReadRange> read_ranges_;                 // as applied, sorted
  std::optional<size_t> read_hook_;                    // the UC_HOOK_MEM_READ, while any range is watched
  std::set<uint64_t> code_pages_;                      // virtual page numbers of every block translated
  bool watches_dirty_ = false;
  bool watch_stop_ = false;                            // a watch hit stopped the engine
  WatchHit watch_hit_;
  // The instruction a watch stopped before (rip, retired count there): its re-execution on the
  // next start does not hit again.
  std::optional<std::pair<uint64_t, uint64_t>> watch_resume_;

  std::string crash_report_, crash_summary_;
};

}  // namespace hvsim
