#include "sim/cpu/unicorn_vcpu.h"

#include <unicorn/unicorn.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "sim/core/status.h"
#include "sim/cpu/disasm.h"
#include "sim/cpu/store_locator.h"
#include "sim/cpu/x86_defs.h"

namespace hvsim {
namespace {

int uc_reg_of(Reg r) {
  static constexpr int kMap[] = {
      UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_RDI,
      UC_X86_REG_RBP, UC_X86_REG_RSP, UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
      UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
      UC_X86_REG_CR0, UC_X86_REG_CR2, UC_X86_REG_CR3, UC_X86_REG_CR4, -1};
  return kMap[static_cast<size_t>(r)];
}

// Guest-physical access through this vCPU's own engine, so QEMU notices writes to code it has
// translated (interrupt frames pushed onto a page that also holds code).
class EnginePhysicalMemory final : public PhysicalMemory {
 public:
  EnginePhysicalMemory(uc_engine* uc, GuestMemory& mem) : uc_(uc), mem_(mem) {}
  bool read(uint64_t gpa, void* dst, size_t len) override { return mem_.read(gpa, dst, len); }
  bool write(uint64_t gpa, const void* src, size_t len) override {
    return mem_.contains(gpa, len) && uc_mem_write(uc_, gpa, src, len) == UC_ERR_OK;
  }

 private:
  uc_engine* uc_;
  GuestMemory& mem_;
};

constexpr uint64_t kRamChunk = 16ull << 20;

void check(uc_err e, const char* what) {
  if (e != UC_ERR_OK) throw UsageError(std::string("CPU emulator: ") + what + ": " + uc_strerror(e));
}

}  // namespace

UnicornVcpu::UnicornVcpu(const VcpuParams& p, GuestMemory& mem, VcpuExitHandler& exits, Tracer& tracer,
                         BlockDecoder& decoder)
    : params_(p), tsc_(p.tsc_hz), mem_(mem), exits_(exits), tracer_(tracer), cache_(decoder) {
  check(uc_open(UC_ARCH_X86, UC_MODE_64, &uc_), "uc_open");
  alias_ = mem_.map_alias();
  // RAM is mapped in chunks of kRamChunk: the first uc_mem_protect inside a region (the hypercall
  // page's write protection) splits that region, and Unicorn 2.1.1 flushes its TLB page by page
  // over the whole region to do so (measured: 42M host instructions for one 256 MiB region, per
  // vCPU). A chunk bounds that to 16 MiB; lookups still hit Unicorn's last-region cache.
  for (uint64_t at = 0; at < mem_.size(); at += kRamChunk) {
    uint64_t len = std::min<uint64_t>(kRamChunk, mem_.size() - at);
    check(uc_mem_map_ptr(uc_, at, len, UC_PROT_ALL, alias_ + at), "mapping guest RAM");
  }
  // No `until` address: in exits mode with an empty exit set, uc_emu_start ignores its `until`
  // argument. (Any `until` makes every start translate that address for a TB flush; a
  // non-canonical one raised #GP inside QEMU each time, which left QEMU's in-flight exception set
  // and cost a CPU-state restore per start — measured with gdb on 2.1.1.)
  check(uc_ctl_exits_enable(uc_), "exits mode");
  blob_ = std::make_unique<CpuStateBlob>(uc_);
  std::string why;
  if (!blob_->locate(why)) throw UsageError("unsupported Unicorn build: " + why);
  phys_ = std::make_unique<EnginePhysicalMemory>(uc_, mem_);

  uc_hook h;
  check(uc_hook_add(uc_, &h, UC_HOOK_BLOCK, reinterpret_cast<void*>(&hook_block), this, 1, 0), "block hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&hook_intr), this, 1, 0), "interrupt hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(&hook_invalid), this, 1, 0), "invalid hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&hook_in), this, 1, 0, UC_X86_INS_IN), "in hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&hook_out), this, 1, 0, UC_X86_INS_OUT), "out hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&hook_cpuid), this, 1, 0, UC_X86_INS_CPUID), "cpuid hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(&hook_syscall), this, 1, 0, UC_X86_INS_SYSCALL), "syscall hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(&hook_unmapped), this, 1, 0), "unmapped hook");
  check(uc_hook_add(uc_, &h, UC_HOOK_MEM_WRITE_PROT, reinterpret_cast<void*>(&hook_write_prot), this, 1, 0),
        "write-protection hook");
}

UnicornVcpu::~UnicornVcpu() {
  blob_.reset();
  if (uc_) uc_close(uc_);
}

// ---- registers and time -------------------------------------------------------------------

uint64_t UnicornVcpu::reg(Reg r) const {
  uint64_t v = 0;
  if (r == Reg::kEfer) {
    uc_x86_msr m{x86::kMsrEfer, 0};
    uc_reg_read(uc_, UC_X86_REG_MSR, &m);
    return m.value;
  }
  uc_reg_read(uc_, uc_reg_of(r), &v);
  return v;
}

void UnicornVcpu::set_reg(Reg r, uint64_t v) {
  blob_current_ = false;
  if (r == Reg::kEfer) {
    native_msr_write(x86::kMsrEfer, v);
    return;
  }
  if (r == Reg::kCr2) {  // through the state copy: Unicorn 2.1.1's CR2 write also sets CR3
    CpuStateBlob& b = snapshot();
    b.set_cr2(v);
    b.store();
    return;
  }
  uc_reg_write(uc_, uc_reg_of(r), &v);
}

void UnicornVcpu::read_xmm(unsigned n, uint64_t out[2]) const {
  out[0] = out[1] = 0;
  if (n < 16) uc_reg_read(uc_, UC_X86_REG_XMM0 + static_cast<int>(n), out);
}

void UnicornVcpu::write_xmm(unsigned n, const uint64_t in[2]) {
  blob_current_ = false;
  if (n < 16) uc_reg_write(uc_, UC_X86_REG_XMM0 + static_cast<int>(n), in);
}

// The engine's state as CpuStateBlob sees it: one snapshot (a 5.5 KB copy) serves every reader
// until the engine runs or the host writes a register. Hooks, which run while the engine runs,
// load their own.
CpuStateBlob& UnicornVcpu::snapshot() {
  if (!blob_current_) {
    blob_->load();
    blob_current_ = !running_;  // inside a hook the engine is still running: never cache
  }
  return *blob_;
}

unsigned UnicornVcpu::cpl() { return snapshot().cpl(); }

bool UnicornVcpu::in_64bit_mode() { return snapshot().code64(); }

uint64_t UnicornVcpu::native_msr_read(uint32_t msr) {
  uc_x86_msr m{msr, 0};
  uc_reg_read(uc_, UC_X86_REG_MSR, &m);
  return m.value;
}

void UnicornVcpu::native_msr_write(uint32_t msr, uint64_t value) {
  blob_current_ = false;
  uc_x86_msr m{msr, value};
  uc_reg_write(uc_, UC_X86_REG_MSR, &m);
}

VirtualTime UnicornVcpu::now() const {
  uint64_t retired = exact_retired_ ? *exact_retired_ : retired_;
  return epoch_ + tsc_.time_of(retired - retired_at_epoch_ + extra_cycles_);
}

uint64_t UnicornVcpu::budget_to_reach(VirtualTime t) const {
  if (t <= epoch_) return 0;
  uint64_t target = tsc_.ticks_at(t - epoch_);
  uint64_t done = retired_ - retired_at_epoch_ + extra_cycles_;
  return target > done ? target - done : 0;
}

void UnicornVcpu::idle_until(VirtualTime t) {
  if (t <= now()) return;
  epoch_ = t;
  retired_at_epoch_ = retired_;
  extra_cycles_ = 0;
}

void UnicornVcpu::kick() {
  kicked_ = true;
  if (running_) stop_after_current();
}

void UnicornVcpu::request_stop() {
  stop_requested_ = true;
  if (running_) stop_after_current();
}

x86::PagingMode UnicornVcpu::paging() const {
  return x86::PagingMode{reg(Reg::kCr0), reg(Reg::kCr3), reg(Reg::kCr4), reg(Reg::kEfer)};
}

// ---- boot --------------------------------------------------------------------------------

void UnicornVcpu::set_long_mode_boot_state(const LongModeBootState& s) {
  blob_current_ = false;
  uc_x86_mmr gdtr{0, s.gdt_base, s.gdt_limit, 0};
  uc_reg_write(uc_, UC_X86_REG_GDTR, &gdtr);
  uc_x86_mmr idtr{0, 0, 0, 0};
  uc_reg_write(uc_, UC_X86_REG_IDTR, &idtr);
  uc_x86_mmr tr{0x30, s.tss_base, 0x67, 0x8b00};
  uc_reg_write(uc_, UC_X86_REG_TR, &tr);
  set_reg(Reg::kCr3, s.cr3);
  set_reg(Reg::kCr4, x86::kCr4Pae | x86::kCr4Pge | x86::kCr4Osfxsr | x86::kCr4Osxmmexcpt);
  native_msr_write(x86::kMsrEfer, x86::kEferSce | x86::kEferLme | x86::kEferLma | x86::kEferNxe);
  set_reg(Reg::kCr0, x86::kCr0Pe | x86::kCr0Mp | x86::kCr0Et | x86::kCr0Ne | x86::kCr0Wp | x86::kCr0Pg);

  blob_->load();
  std::string why;
  x86::SegmentCache cs, ds;
  bool ok = x86::load_descriptor(*phys_, paging(), s.gdt_base, s.gdt_limit, 0x08, cs, why) &&
            x86::load_descriptor(*phys_, paging(), s.gdt_base, s.gdt_limit, 0x10, ds, why);
  SIM_ASSERT(ok, "boot GDT unreadable");
  blob_->load_segment(SegReg::kCS, cs);
  for (SegReg r : {SegReg::kSS, SegReg::kDS, SegReg::kES}) blob_->load_segment(r, ds);
  for (SegReg r : {SegReg::kFS, SegReg::kGS}) blob_->load_segment(r, x86::SegmentCache{});
  blob_->store();

  for (int r = 0; r <= static_cast<int>(Reg::kR15); ++r) set_reg(static_cast<Reg>(r), 0);
  set_reg(Reg::kRip, s.rip);
  set_reg(Reg::kRsp, s.rsp);
  set_reg(Reg::kRdi, s.rdi);
  set_reg(Reg::kRsi, s.rsi);
  set_reg(Reg::kRflags, x86::kRflagsFixed);
}

void UnicornVcpu::start_real_mode(uint8_t vector) {
  blob_current_ = false;
  native_msr_write(x86::kMsrEfer, 0);
  set_reg(Reg::kCr0, x86::kCr0Et | 0x60000000ull);  // CD NW ET: the INIT state
  set_reg(Reg::kCr4, 0);
  set_reg(Reg::kCr3, 0);
  uc_x86_mmr gdtr{0, 0, 0xffff, 0}, idtr{0, 0, 0x3ff, 0};
  uc_reg_write(uc_, UC_X86_REG_GDTR, &gdtr);
  uc_reg_write(uc_, UC_X86_REG_IDTR, &idtr);
  blob_->load();
  auto sel = static_cast<uint16_t>(vector << 8);
  blob_->load_segment(SegReg::kCS, x86::SegmentCache{sel, static_cast<uint64_t>(sel) << 4, 0xffff, 0x9b00});
  for (SegReg r : {SegReg::kSS, SegReg::kDS, SegReg::kES, SegReg::kFS, SegReg::kGS})
    blob_->load_segment(r, x86::SegmentCache{0, 0, 0xffff, 0x9300});
  blob_->clear_pending_exception();
  blob_->store();
  for (int r = 0; r <= static_cast<int>(Reg::kR15); ++r) set_reg(static_cast<Reg>(r), 0);
  set_reg(Reg::kRip, 0);
  set_reg(Reg::kRflags, x86::kRflagsFixed);
  cache_.invalidate_all();
  cur_block_ = nullptr;
}

void UnicornVcpu::set_page_backing(uint64_t gpa, std::optional<uint32_t> overlay) {
  if (overlay)
    mem_.show_overlay(alias_, gpa, *overlay);
  else
    mem_.show_ram(alias_, gpa);
  if (overlay && !mem_.overlay_guest_writable(*overlay)) read_only_pages_.insert(gpa);
  else read_only_pages_.erase(gpa);
  stale_pages_.push_back(gpa);
  // DEVNOTE: dropping translations while this engine runs (from an MSR exit) makes Unicorn re-run
  // the block and then stop for no reason (found with hv_hypercall.elf): the new page is visible at
  // once, but its stale translations are dropped after the engine stops behind this instruction.
  if (running_) {
    stop_after_current();
    return;
  }
  drop_stale_translations();
}

void UnicornVcpu::drop_stale_translations() {
  // DEVNOTE: Unicorn drops translations by virtual address; this assumes the page is mapped at
  // the same address (true for the boot identity map). Overlays are rarely code: only the
  // hypercall page, whose content never changes while it is shown.
  for (uint64_t gpa : stale_pages_) {
    uc_ctl_remove_cache(uc_, gpa, gpa + 0x1000);
    // Protection changes only with the engine stopped, and only when it differs: every
    // uc_mem_protect splits Unicorn's RAM region for good.
    bool want = read_only_pages_.count(gpa) != 0;
    if (want == (protected_pages_.count(gpa) != 0)) continue;
    uc_mem_protect(uc_, gpa, 0x1000, want ? UC_PROT_READ | UC_PROT_EXEC : UC_PROT_ALL);
    if (want) protected_pages_.insert(gpa);
    else protected_pages_.erase(gpa);
  }
  stale_pages_.clear();
  cache_.invalidate_all();
  cur_block_ = nullptr;
}

void UnicornVcpu::stop_after_current() {
  // From an exit handler the exact position is known: the run ends after this instruction, even
  // if the emulator finishes the rest of the block before it stops.
  if (exact_retired_) stop_retired_ = *exact_retired_ + 1;
  uc_emu_stop(uc_);
}

void UnicornVcpu::map_mmio(uint64_t base, uint64_t size, MmioHandler& handler) {
  mmio_.push_back(std::make_unique<MmioRegion>(MmioRegion{this, &handler}));
  MmioRegion* r = mmio_.back().get();
  check(uc_mmio_map(uc_, base, size, reinterpret_cast<uc_cb_mmio_read_t>(&mmio_read_cb), r,
                    reinterpret_cast<uc_cb_mmio_write_t>(&mmio_write_cb), r),
        "mapping a device region");
}

uint64_t UnicornVcpu::mmio_read_cb(uc_struct*, uint64_t offset, unsigned size, void* region) {
  auto* r = static_cast<MmioRegion*>(region);
  return r->handler->mmio_read(*r->vcpu, offset, size);
}

void UnicornVcpu::mmio_write_cb(uc_struct*, uint64_t offset, unsigned size, uint64_t value, void* region) {
  auto* r = static_cast<MmioRegion*>(region);
  r->handler->mmio_write(*r->vcpu, offset, size, value);
}

// ---- running -------------------------------------------------------------------------------

StopReason UnicornVcpu::run(uint64_t budget_insns) {
  budget_ = budget_insns;
  quantum_retired_ = 0;
  trace_blocks_ = tracer_.wants_json(TracePoint::kBlock);
  stop_budget_ = stop_requested_ = restart_ = false;
  while (true) {
    if (quantum_retired_ >= budget_) return StopReason::kBudget;
    if (kicked_) {
      kicked_ = false;
      return StopReason::kKicked;
    }
    // DEVNOTE: an exception that UC_HOOK_INTR takes over stays "in flight" in QEMU (old_exception,
    // measured on 2.1.1; tests/contract), which would turn the guest's next fault into #DF. No
    // exception is in flight at an instruction boundary: clear it before the next start.
    if (exception_in_flight_) {
      CpuStateBlob& b = snapshot();
      b.clear_pending_exception();
      b.store();
      exception_in_flight_ = false;
    }
    halted_cleanly_ = false;
    if (watches_dirty_) apply_watches();
    uint64_t rip = reg(Reg::kRip);
    running_ = true;
    blob_current_ = false;
    uc_err err = uc_emu_start(uc_, rip, 0, 0, 0);
    running_ = false;
    if (stop_retired_) {
      quantum_retired_ -= retired_ - *stop_retired_;
      retired_ = *stop_retired_;
      stop_retired_.reset();
    }
    bool resume = !stale_pages_.empty();
    if (resume) drop_stale_translations();
    resume = resume || watches_dirty_;
    if (new_sites_) {
      hook_sites(*new_sites_);
      new_sites_ = nullptr;
    }
    if (err != UC_ERR_OK) {
      uint64_t at = reg(Reg::kRip);
      if (unmapped_addr_) {
        // DEVNOTE: Unicorn does not sync RIP for an access to unmapped memory; `at` is the start
        // of the block holding the faulting instruction (FUTURE: pinpoint it by decoding).
        at = unmapped_rip_;
        if (cur_block_) { uint32_t n = cur_block_->not_reached(at); retired_ -= n; quantum_retired_ -= n; }
        char buf[160];
        const char* what = unmapped_type_ == UC_MEM_WRITE_UNMAPPED ? "write to"
                         : unmapped_type_ == UC_MEM_FETCH_UNMAPPED ? "instruction fetch from" : "read from";
        std::snprintf(buf, sizeof buf, "%s guest-physical address 0x%" PRIx64 " outside guest RAM (0x%" PRIx64 " bytes)",
                      what, *unmapped_addr_, mem_.size());
        unmapped_addr_.reset();
        crash(buf, at);
        return StopReason::kCrash;
      }
      if (err == UC_ERR_INSN_INVALID && pending_hypercall_ == at) {
        pending_hypercall_.reset();
        if (!run_hypercall(at)) return StopReason::kCrash;
        if (stop_requested_) return StopReason::kStopRequested;
        continue;
      }
      if (err == UC_ERR_INSN_INVALID) {
        pending_exc_ = PendingException{x86::kUD, at, false, 0, false};
      } else if (err == UC_ERR_WRITE_PROT && write_prot_gpa_) {
        pending_exc_ = PendingException{x86::kGP, write_fault_rip(*write_prot_gpa_), true, 0, false};
        write_prot_gpa_.reset();
      } else if (!pending_exc_) {
        crash(std::string("CPU emulator error: ") + uc_strerror(err), at);
        return StopReason::kCrash;
      }
    }
    if (pending_exc_) {
      PendingException e = *pending_exc_;
      pending_exc_.reset();
      if (!handle_exception(e)) return StopReason::kCrash;
      if (stop_requested_) return StopReason::kStopRequested;
      continue;
    }
    if (pending_syscall_) {
      pending_syscall_ = false;
      emulate_syscall();
      if (!crash_summary_.empty()) return StopReason::kCrash;
      continue;
    }
    if (stop_block_) resume_at_block(*stop_block_);
    if (watch_stop_) {
      watch_stop_ = false;
      return StopReason::kWatch;
    }
    if (stop_requested_) return StopReason::kStopRequested;
    if (restart_ || resume || kicked_) {
      restart_ = false;
      continue;
    }
    if (stop_budget_) return StopReason::kBudget;
    uint64_t at = reg(Reg::kRip);
    uint8_t prev = 0;
    if ((cur_block_ && cur_block_->ends_with_hlt && at == cur_block_->addr + cur_block_->size) ||
        (uc_mem_read(uc_, at - 1, &prev, 1) == UC_ERR_OK && prev == 0xf4)) {
      halted_cleanly_ = true;
      return StopReason::kHalt;
    }
    crash("CPU emulator stopped for no known reason", at);
    return StopReason::kCrash;
  }
}

void UnicornVcpu::hook_block(uc_struct*, uint64_t addr, uint32_t size, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  if (v->quantum_retired_ >= v->budget_) {
    // The block does not run when the hook stops the engine (pinned by the contract tests).
    v->stop_budget_ = true;
    v->stop_block_ = addr;
    uc_emu_stop(v->uc_);
    return;
  }
  // An interrupt waits for IF=1 and no STI/MOV-SS shadow. IF can rise only in a block that may set
  // it (BlockInfo::may_set_if), and QEMU ends the block there; after STI the next block is the one
  // shadowed instruction. So the window is checked at the two block starts after such a block:
  // the interrupt is taken at the exact instruction boundary where it opens. The check costs an
  // RFLAGS read (QEMU computes the flags); every kWindowCheckBlocks-th block is checked as well.
  if (v->want_irq_window_) {
    bool check = v->if_may_have_risen_ > 0 || ++v->window_blocks_ % kWindowCheckBlocks == 0;
    if (check && v->can_take_interrupt()) {
      v->want_irq_window_ = false;
      v->if_may_have_risen_ = 0;
      v->kicked_ = true;
      v->stop_block_ = addr;
      uc_emu_stop(v->uc_);
      return;
    }
  }
  const BlockInfo* b = v->cache_.find(addr, size);
  if (!b) {
    v->on_new_block(addr, size);
    if (v->restart_) return;
    b = v->cache_.find(addr, size);
  }
  v->cur_block_ = b;
  v->io_ordinal_ = 0;
  // Counted down only for blocks that run (not for one stopped by the budget or a restart).
  if (v->if_may_have_risen_ > 0) --v->if_may_have_risen_;
  if (b->may_set_if) v->if_may_have_risen_ = 2;
  if (v->trace_blocks_)
    v->tracer_.emit(TracePoint::kBlock, v->now(), v->params_.vp, {TraceField::hex("addr", addr), TraceField::u64("insns", b->count)});
  v->retired_ += b->count;
  v->quantum_retired_ += b->count;
}

void UnicornVcpu::on_new_block(uint64_t addr, uint32_t size) {
  std::vector<uint8_t> bytes(size);
  x86::LinearAccess a = x86::read_linear(*phys_, paging(), addr, bytes.data(), size, false);
  if (!a.ok) std::memset(bytes.data(), 0x90, size);  // unreadable: Unicorn will fault on it anyway
  const BlockInfo& b = cache_.insert(addr, size, bytes.data());
  for (uint64_t page = addr >> 12; page <= (addr + size - 1) >> 12; ++page) code_pages_.insert(page);
  bool unhooked = false;
  for (const TrapSite& s : b.sites) unhooked = unhooked || !hooked_sites_.count(s.addr);
  if (!unhooked) return;
  // Hooks exist only at translation time: hook each site and drop the block's translation, then
  // rerun it. DEVNOTE: both are done after the engine stops (hook_sites); changing hooks or
  // translations from inside a running engine makes Unicorn 2.1.1 stop later for no reason.
  new_sites_ = &b;
  restart_ = true;
  stop_block_ = addr;
  uc_emu_stop(uc_);
}

void UnicornVcpu::hook_sites(const BlockInfo& b) {
  bool added = false;
  for (const TrapSite& s : b.sites) {
    // One hook per address for the engine's lifetime: a second would run the exit twice.
    if (!hooked_sites_.insert(s.addr).second) continue;
    uc_hook h;
    uc_hook_add(uc_, &h, UC_HOOK_CODE, reinterpret_cast<void*>(&hook_site), this, s.addr, s.addr);
    added = true;
  }
  if (added) uc_ctl_remove_cache(uc_, b.addr, b.addr + b.size);
}

void UnicornVcpu::resume_at_block(uint64_t linear) {
  // DEVNOTE: after uc_emu_stop from the block hook, Unicorn's RIP is whatever TCG last synced,
  // not always the block that did not run (seen in usermode.elf: a stale return address), so set
  // it. tests/integration Machine.QuantumNeverChangesASingleVcpuRun guards this.
  uint64_t cs_base = 0;
  if (!(reg(Reg::kEfer) & x86::kEferLma)) {
    blob_->load();
    cs_base = blob_->segment(SegReg::kCS).base;
  }
  set_reg(Reg::kRip, linear - cs_base);
  stop_block_.reset();
}

uint64_t UnicornVcpu::retired_before_io() {
  const BlockInfo* b = cur_block_;
  if (!b || io_ordinal_ >= b->io_offsets.size()) return retired_;
  uint64_t at = b->addr + b->io_offsets[io_ordinal_];
  // A REP INS/OUTS exits once per element: it stays the current I/O instruction (and ends its block).
  bool rep_string = b->ends_with_rep_io && io_ordinal_ + 1 == b->io_offsets.size();
  if (!rep_string) ++io_ordinal_;
  return retired_before(at);
}

uint64_t UnicornVcpu::retired_before(uint64_t rip) const {
  return retired_ - (cur_block_ ? cur_block_->not_reached(rip) : 0);
}

void UnicornVcpu::hook_site(uc_struct*, uint64_t addr, uint32_t, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  if (!v->cur_block_ || v->stop_if_exec_watched(addr)) return;  // a watched site runs after the stop
  for (const TrapSite& s : v->cur_block_->sites) {
    if (s.addr == addr) {
      v->handle_site(s);
      return;
    }
  }
  // A hook left from code that no longer stands at this address: let the instruction run.
}

void UnicornVcpu::handle_site(const TrapSite& site) {
  exact_retired_ = retired_before(site.addr);
  auto raise_gp = [&] {
    pending_exc_ = PendingException{x86::kGP, site.addr, true, 0, false};
    set_reg(Reg::kRip, site.addr);  // leaves the block before the instruction runs
    uc_emu_stop(uc_);
  };
  uint64_t next = site.addr + site.length;
  switch (site.kind) {
    case SiteKind::kRdmsr: {
      auto msr = static_cast<uint32_t>(reg(Reg::kRcx));
      MsrRead r = exits_.on_rdmsr(*this, msr);
      if (r.gp) { raise_gp(); break; }
      set_reg(Reg::kRax, r.value & 0xffffffffu);
      set_reg(Reg::kRdx, r.value >> 32);
      set_reg(Reg::kRip, next);
      break;
    }
    case SiteKind::kWrmsr: {
      auto msr = static_cast<uint32_t>(reg(Reg::kRcx));
      uint64_t value = (reg(Reg::kRdx) << 32) | (reg(Reg::kRax) & 0xffffffffu);
      if (!exits_.on_wrmsr(*this, msr, value)) { raise_gp(); break; }
      set_reg(Reg::kRip, next);
      break;
    }
    case SiteKind::kRdtsc:
    case SiteKind::kRdtscp: {
      uint64_t tsc = exits_.on_rdtsc(*this);
      set_reg(Reg::kRax, tsc & 0xffffffffu);
      set_reg(Reg::kRdx, tsc >> 32);
      if (site.kind == SiteKind::kRdtscp) set_reg(Reg::kRcx, native_msr_read(x86::kMsrTscAux) & 0xffffffffu);
      set_reg(Reg::kRip, next);
      break;
    }
  }
  exact_retired_.reset();
}

void UnicornVcpu::hook_intr(uc_struct*, uint32_t intno, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  uint64_t rip = v->reg(Reg::kRip);
  v->exception_in_flight_ = true;
  if (v->pending_exc_) return;  // already stopping for an exception raised by a site hook
  // The error code and the software-interrupt flag are read here, where they describe this
  // exception.
  v->blob_->load();
  v->pending_exc_ = PendingException{static_cast<uint8_t>(intno), rip, false,
                                     static_cast<uint32_t>(v->blob_->error_code()), v->blob_->exception_is_int()};
  uc_emu_stop(v->uc_);
}

bool UnicornVcpu::hook_invalid(uc_struct* uc, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  uint64_t rip = v->reg(Reg::kRip);
  uint8_t op[3] = {};
  uc_mem_read(uc, rip, op, sizeof op);  // FUTURE: translate rip when the guest does not identity-map code
  // DEVNOTE: a hypercall is serviced after the engine stops (run()), not here: when this hook
  // handles the instruction itself, Unicorn 2.1.1 raises a stray #UD afterwards and later stops
  // the engine for no reason (found with hv_hypercall.elf). Declining stops the engine precisely.
  if (op[0] == 0x0f && op[1] == 0x01 && (op[2] == 0xc1 || op[2] == 0xd9)) v->pending_hypercall_ = rip;
  return false;
}

uint32_t UnicornVcpu::hook_in(uc_struct*, uint32_t port, int size, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  v->exact_retired_ = v->retired_before_io();
  uint32_t value = v->exits_.on_io_in(*v, static_cast<uint16_t>(port), static_cast<unsigned>(size));
  v->exact_retired_.reset();
  return value;
}

void UnicornVcpu::hook_out(uc_struct*, uint32_t port, int size, uint32_t value, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  v->exact_retired_ = v->retired_before_io();
  v->exits_.on_io_out(*v, static_cast<uint16_t>(port), static_cast<unsigned>(size), value);
  v->exact_retired_.reset();
}

int UnicornVcpu::hook_cpuid(uc_struct*, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  v->exact_retired_ = v->retired_before(v->reg(Reg::kRip));
  CpuidResult r = v->exits_.on_cpuid(*v, static_cast<uint32_t>(v->reg(Reg::kRax)), static_cast<uint32_t>(v->reg(Reg::kRcx)));
  v->exact_retired_.reset();
  v->set_reg(Reg::kRax, r.eax);
  v->set_reg(Reg::kRbx, r.ebx);
  v->set_reg(Reg::kRcx, r.ecx);
  v->set_reg(Reg::kRdx, r.edx);
  return 1;  // skip the emulator's own CPUID
}

void UnicornVcpu::hook_syscall(uc_struct*, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  // Unicorn skips SYSCALL after this hook; emulate it once the engine has stopped.
  v->pending_syscall_ = true;
  uc_emu_stop(v->uc_);
}

bool UnicornVcpu::hook_unmapped(uc_struct*, int type, uint64_t addr, int, int64_t, void* self) {
  auto* v = static_cast<UnicornVcpu*>(self);
  v->unmapped_addr_ = addr;
  v->unmapped_type_ = type;
  v->unmapped_rip_ = v->reg(Reg::kRip);
  v->unmapped_rip_ = v->reg(Reg::kRip);
  return false;
}

bool UnicornVcpu::hook_write_prot(uc_struct*, int, uint64_t addr, int, int64_t, void* self) {
  // Declining refuses the store and stops the engine right behind it (store_locator.h).
  static_cast<UnicornVcpu*>(self)->write_prot_gpa_ = addr;
  return false;
}

// The instruction whose store to `gpa` the engine refused: Unicorn leaves RIP at its block's
// start. DEVNOTE: the arithmetic flags Unicorn reports there can be stale if a flag-setting
// instruction ran earlier in the same block (its lazy flag state is not written back).
uint64_t UnicornVcpu::write_fault_rip(uint64_t gpa) {
  uint64_t rip = reg(Reg::kRip);
  if (!cur_block_) return rip;
  std::vector<uint8_t> code(cur_block_->size);
  if (!x86::read_linear(*phys_, paging(), cur_block_->addr, code.data(), code.size(), false).ok) return rip;
  StoreSearch s;
  s.code = code.data();
  s.size = cur_block_->size;
  s.addr = cur_block_->addr;
  s.fault_page = gpa & ~0xfffull;
  for (size_t r = 0; r < s.gpr.size(); ++r) s.gpr[r] = reg(static_cast<Reg>(r));
  s.fs_base = native_msr_read(x86::kMsrFsBase);
  s.gs_base = native_msr_read(x86::kMsrGsBase);
  x86::PagingMode mode = paging();
  std::optional<uint64_t> at = locate_store(s, [&](uint64_t linear) -> std::optional<uint64_t> {
    x86::Translation t = x86::translate(*phys_, mode, linear, true, false);
    return t.ok ? std::optional<uint64_t>(t.gpa) : std::nullopt;
  });
  return at ? *at : rip;
}

// ---- exceptions, interrupts, privilege -------------------------------------------------------

x86::InterruptedState UnicornVcpu::interrupted_state(uint64_t rip) {
  // One state copy serves every field but RFLAGS (QEMU computes the arithmetic flags lazily).
  const CpuStateBlob& b = snapshot();
  x86::InterruptedState s;
  s.rip = rip;
  s.rsp = reg(Reg::kRsp);
  s.rflags = reg(Reg::kRflags);
  s.cs = b.segment(SegReg::kCS).selector;
  s.ss = b.segment(SegReg::kSS).selector;
  s.cpl = b.cpl();
  s.idtr_base = b.idt().base;
  s.idtr_limit = b.idt().limit;
  s.gdtr_base = b.gdt().base;
  s.gdtr_limit = b.gdt().limit;
  s.tr_base = b.tr_base();
  s.paging = x86::PagingMode{b.cr(0), b.cr(3), b.cr(4), b.efer()};
  return s;
}

bool UnicornVcpu::handle_exception(PendingException e) {
  if (cur_block_) {
    uint32_t n = cur_block_->not_reached(e.rip);
    retired_ -= n;
    quantum_retired_ -= n;
    cur_block_ = nullptr;
  }
  x86::Event ev;
  ev.vector = e.vector;
  if (e.from_site) {
    ev.kind = x86::EventKind::kFault;
    ev.has_error = true;
    ev.error = e.error;
  } else {
    blob_->load();
    blob_->clear_pending_exception();
    blob_->store();
    exception_in_flight_ = false;
    bool is_int = e.is_int;
    uint32_t error = e.error;
    if (is_int)
      ev.kind = (e.vector == x86::kBP || e.vector == x86::kOF) ? x86::EventKind::kTrap : x86::EventKind::kSoftwareInt;
    else
      ev.kind = e.vector == x86::kDB ? x86::EventKind::kTrap : x86::EventKind::kFault;
    ev.has_error = !is_int && x86::has_error_code(e.vector);
    ev.error = ev.has_error ? error : 0;
  }
  uint64_t cr2 = ev.vector == x86::kPF ? reg(Reg::kCr2) : 0;
  return raise(ev, e.rip, cr2, false);
}

bool UnicornVcpu::raise(x86::Event ev, uint64_t rip, uint64_t cr2, bool set_cr2) {
  const x86::Event original = ev;
  std::string chain;
  char buf[128];
  for (int depth = 0; depth < 3; ++depth) {
    if (ev.vector == x86::kPF && set_cr2) set_reg(Reg::kCr2, cr2);
    x86::InterruptedState st = interrupted_state(rip);
    x86::DeliveryResult d = x86::deliver_event(*phys_, st, ev);
    if (d.delivered) {
      tracer_.emit(ev.kind == x86::EventKind::kExternal ? TracePoint::kIrqDeliver : TracePoint::kException,
                   now(), params_.vp,
                   {TraceField::u64("vector", ev.vector), TraceField::hex("error", ev.error), TraceField::hex("rip", rip),
                    TraceField::u64("cpl", st.cpl), TraceField::hex("rflags", st.rflags), TraceField::hex("handler", d.rip)});
      return apply_delivery(d);
    }
    // The chain of events is only needed for a crash report: built once delivery has failed.
    std::snprintf(buf, sizeof buf, "%s%s(0x%x)", chain.empty() ? "" : " -> ", x86::exception_mnemonic(ev.vector), ev.error);
    chain += ev.kind == x86::EventKind::kExternal || ev.kind == x86::EventKind::kSoftwareInt
                 ? std::string(chain.empty() ? "" : " -> ") + "vector " + std::to_string(ev.vector)
                 : std::string(buf);
    if (d.undeliverable) {
      crash("unhandled " + chain + ": " + d.why, rip);
      return false;
    }
    chain += " [" + d.why + "]";
    if (ev.vector == x86::kDF) {
      std::snprintf(buf, sizeof buf, "unhandled %s (triple fault): ", x86::exception_mnemonic(original.vector));
      crash(buf + chain, rip);
      return false;
    }
    if (ev.kind == x86::EventKind::kExternal || ev.kind == x86::EventKind::kSoftwareInt) {
      ev = d.fault;
    } else {
      ev = x86::Event{x86::kDF, x86::EventKind::kFault, true, 0};
    }
    if (d.fault.vector == x86::kPF) { cr2 = d.fault_cr2; set_cr2 = true; }
  }
  crash("unhandled " + chain, rip);
  return false;
}

bool UnicornVcpu::apply_delivery(const x86::DeliveryResult& d) {
  CpuStateBlob& b = snapshot();
  x86::SegmentCache cur = b.segment(SegReg::kCS);
  bool reload_cs = cur.selector != d.cs.selector || cur.flags != d.cs.flags || d.stack_switched;
  // uc_context_restore only when something in QEMU's state must change (it is not free of side
  // effects on Unicorn's own state: see the DEVNOTE in run()).
  if (reload_cs || b.pending_exception() != -1) {
    b.clear_pending_exception();
    if (reload_cs) b.load_segment(SegReg::kCS, d.cs);
    if (d.stack_switched) b.load_segment(SegReg::kSS, d.ss);
    b.store();
  }
  set_reg(Reg::kRsp, d.rsp);
  set_reg(Reg::kRflags, d.rflags);
  set_reg(Reg::kRip, d.rip);
  return true;
}

bool UnicornVcpu::can_take_interrupt() {
  if (!(reg(Reg::kRflags) & x86::kRflagsIf)) return false;
  // QEMU's HLT ends an STI/MOV-SS shadow: a vCPU halted since its last stop has none.
  return halted_cleanly_ || !snapshot().interrupt_shadow();
}

bool UnicornVcpu::deliver_external(uint8_t vector) {
  return raise(x86::Event{vector, x86::EventKind::kExternal, false, 0}, reg(Reg::kRip), 0, false);
}

// VMCALL/VMMCALL at `rip`, with the engine stopped: the instruction has not retired yet.
bool UnicornVcpu::run_hypercall(uint64_t rip) {
  if (cur_block_) {
    uint32_t n = cur_block_->not_reached(rip);
    retired_ -= n;
    quantum_retired_ -= n;
    cur_block_ = nullptr;
  }
  exact_retired_ = retired_;
  HypercallResult r = exits_.on_hypercall(*this);
  exact_retired_.reset();
  switch (r) {
    case HypercallResult::kDone:
      ++retired_;
      ++quantum_retired_;
      set_reg(Reg::kRip, rip + 3);
      return true;
    case HypercallResult::kRetry:
      set_reg(Reg::kRip, rip);
      return true;
    case HypercallResult::kUndefined:
      break;
  }
  return raise(x86::Event{x86::kUD, x86::EventKind::kFault, false, 0}, rip, 0, false);
}

void UnicornVcpu::emulate_syscall() {
  uint64_t next = reg(Reg::kRip);  // Unicorn has already stepped past the 2-byte SYSCALL
  uint64_t efer = reg(Reg::kEfer);
  if (!(efer & x86::kEferSce) || !(efer & x86::kEferLma)) {
    raise(x86::Event{x86::kUD, x86::EventKind::kFault, false, 0}, next - 2, 0, false);
    return;
  }
  uint64_t star = native_msr_read(x86::kMsrStar);
  uint64_t lstar = native_msr_read(x86::kMsrLstar);
  uint64_t fmask = native_msr_read(x86::kMsrFmask);
  uint64_t rflags = reg(Reg::kRflags);
  set_reg(Reg::kRcx, next);
  set_reg(Reg::kR11, rflags & ~x86::kRflagsRf);
  auto sel = static_cast<uint16_t>((star >> 32) & 0xfffc);
  blob_->load();
  unsigned from_cpl = blob_->cpl();
  // SYSCALL loads fixed flat descriptors, not the GDT's (SDM SYSCALL pseudocode).
  blob_->load_segment(SegReg::kCS, x86::SegmentCache{sel, 0, 0xffffffff, 0x00a09b00});
  blob_->load_segment(SegReg::kSS, x86::SegmentCache{static_cast<uint16_t>(sel + 8), 0, 0xffffffff, 0x00c09300});
  blob_->store();
  set_reg(Reg::kRflags, (rflags & ~(fmask | x86::kRflagsRf)) | x86::kRflagsFixed);
  set_reg(Reg::kRip, lstar);
  tracer_.emit(TracePoint::kSyscall, now(), params_.vp,
               {TraceField::hex("rip", next - 2), TraceField::u64("from_cpl", from_cpl), TraceField::hex("rflags", rflags),
                TraceField::hex("target", lstar)});
}

// ---- crash report ----------------------------------------------------------------------------

void UnicornVcpu::crash(const std::string& summary, uint64_t rip) {
  crash_summary_ = summary;
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "vp%d: %s\n  at rip 0x%016" PRIx64 "\n", params_.vp, summary.c_str(), rip);
  out += line;
  static const char* const kNames[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
                                       "r11", "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2", "cr3",
                                       "cr4", "efer"};
  for (int r = 0; r < static_cast<int>(Reg::kCount); ++r) {
    std::snprintf(line, sizeof line, "  %-6s 0x%016" PRIx64 "%s", kNames[r], reg(static_cast<Reg>(r)), (r % 3 == 2) ? "\n" : "");
    out += line;
  }
  uint64_t cs = 0;
  uc_reg_read(uc_, UC_X86_REG_CS, &cs);
  blob_->load();
  std::snprintf(line, sizeof line, "\n  cs 0x%04" PRIx64 " cpl %u\n  code:\n", cs, blob_->cpl());
  out += line;
  uint64_t start = rip >= 48 ? rip - 48 : 0;
  uint8_t code[80];
  size_t got = 0;
  while (got < sizeof code && x86::read_linear(*phys_, paging(), start + got, code + got, 1, false).ok) ++got;
  if (got == 0) {
    start = rip;
    while (got < 32 && x86::read_linear(*phys_, paging(), start + got, code + got, 1, false).ok) ++got;
  }
  out += got ? disassemble_around(code, got, start, rip, 6, 4) : "    (code not readable)\n";
  crash_report_ = out;
}

std::vector<CpuidResult> UnicornVcpu::native_cpuid(const std::vector<std::pair<uint32_t, uint32_t>>& leaves) {
  std::vector<CpuidResult> out;
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK) return out;
  static const uint8_t kCode[] = {0x0f, 0xa2};  // cpuid
  uc_mem_map(uc, 0x1000, 0x1000, UC_PROT_ALL);
  uc_mem_write(uc, 0x1000, kCode, sizeof kCode);
  for (auto [leaf, subleaf] : leaves) {
    uint64_t a = leaf, b = 0, c = subleaf, d = 0;
    uc_reg_write(uc, UC_X86_REG_RAX, &a);
    uc_reg_write(uc, UC_X86_REG_RCX, &c);
    uc_emu_start(uc, 0x1000, 0x1000 + sizeof kCode, 0, 0);
    uc_reg_read(uc, UC_X86_REG_RAX, &a);
    uc_reg_read(uc, UC_X86_REG_RBX, &b);
    uc_reg_read(uc, UC_X86_REG_RCX, &c);
    uc_reg_read(uc, UC_X86_REG_RDX, &d);
    out.push_back(CpuidResult{static_cast<uint32_t>(a), static_cast<uint32_t>(b), static_cast<uint32_t>(c),
                              static_cast<uint32_t>(d)});
  }
  uc_close(uc);
  return out;
}

}  // namespace hvsim
