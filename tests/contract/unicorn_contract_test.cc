// Pins every Unicorn behaviour hvsim relies on (../shared/UNICORN.md, measured on 2.1.1), on the
// raw API, so that a Unicorn change fails here first and loudly.
#include <unicorn/unicorn.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "sim/cpu/cpu_state_blob.h"

namespace hvsim {
namespace {

constexpr uint64_t kRam = 16 << 20, kCode = 0x100000;

class Engine : public ::testing::Test {
 protected:
  void SetUp() override {
    ram_.assign(kRam, 0);
    ASSERT_EQ(uc_open(UC_ARCH_X86, UC_MODE_64, &uc_), UC_ERR_OK);
    ASSERT_EQ(uc_mem_map_ptr(uc_, 0, kRam, UC_PROT_ALL, ram_.data()), UC_ERR_OK);
    ASSERT_EQ(uc_ctl_exits_enable(uc_), UC_ERR_OK);  // as UnicornVcpu: no `until` address
    put64(0x1000, 0x2000 | 7);  // PML4 -> PDPT
    put64(0x2000, 0x3000 | 7);  // PDPT[0] -> PD: identity 0..16M, 2 MiB pages, user
    for (uint64_t i = 0; i < 8; ++i) put64(0x3000 + 8 * i, (i << 21) | 0x87);
    put64(0x2008, 0x3000 | 7);  // PDPT[1]: GVA 1G.. aliases GPA 0..16M
    const uint64_t gdt[] = {0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0x00cffb000000ffffull,
                            0x00cff3000000ffffull, 0x00affb000000ffffull};
    std::memcpy(&ram_[0x5000], gdt, sizeof gdt);
    uc_x86_mmr g{0, 0x5000, sizeof gdt - 1, 0};
    uc_reg_write(uc_, UC_X86_REG_GDTR, &g);
    set(UC_X86_REG_CR3, 0x1000);
    set(UC_X86_REG_CR4, get(UC_X86_REG_CR4) | 0x620);
    set(UC_X86_REG_CR0, get(UC_X86_REG_CR0) | 0x80000001ull);
    uc_x86_msr efer{0xc0000080, 0xd01};
    uc_reg_write(uc_, UC_X86_REG_MSR, &efer);
    set(UC_X86_REG_RSP, 0x8000);
  }
  void TearDown() override { uc_close(uc_); }

  void put64(uint64_t gpa, uint64_t v) { std::memcpy(&ram_[gpa], &v, 8); }
  void set(int reg, uint64_t v) { uc_reg_write(uc_, reg, &v); }
  uint64_t get(int reg) { uint64_t v = 0; uc_reg_read(uc_, reg, &v); return v; }
  void code(uint64_t at, std::vector<uint8_t> bytes) {
    std::memcpy(&ram_[at], bytes.data(), bytes.size());
    uc_ctl_remove_cache(uc_, at, at + bytes.size());
  }
  uc_err run(uint64_t at) { return uc_emu_start(uc_, at, 0, 0, 0); }

  uc_engine* uc_ = nullptr;
  std::vector<uint8_t> ram_;
};

struct IntrLog {
  std::vector<uint32_t> vectors;
  std::vector<int> error_codes;
  CpuStateBlob* blob = nullptr;
};

void log_intr(uc_engine* uc, uint32_t intno, void* user) {
  auto* log = static_cast<IntrLog*>(user);
  log->vectors.push_back(intno);
  if (log->blob) {
    log->blob->load();
    log->error_codes.push_back(log->blob->error_code());
  }
  uc_emu_stop(uc);
}

}  // namespace

TEST_F(Engine, HostWrittenPagingTranslatesThroughGuestPageTables) {
  // mov rax, 0x40300000; mov qword [rax], 0x1234; hlt  -- GVA 1G+3M is GPA 3M
  code(kCode, {0x48, 0xb8, 0, 0, 0x30, 0x40, 0, 0, 0, 0, 0x48, 0xc7, 0, 0x34, 0x12, 0, 0, 0xf4});
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  uint64_t v;
  std::memcpy(&v, &ram_[0x300000], 8);
  EXPECT_EQ(v, 0x1234u);
}

TEST_F(Engine, HltReturnsWithRipPastIt) {
  code(kCode, {0x90, 0xf4, 0x90});
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 2);
}

struct BlockStop { int hooks = 0; int budget = 0; };

TEST_F(Engine, BlockHookStopPreventsThatBlockFromRunning) {
  // loop: inc rbx; cmp rbx, 1000000; jne loop; hlt
  code(kCode, {0x48, 0xff, 0xc3, 0x48, 0x81, 0xfb, 0x40, 0x42, 0x0f, 0x00, 0x75, 0xf4, 0xf4});
  BlockStop st{0, 1000};
  uc_hook h;
  auto cb = +[](uc_engine* uc, uint64_t, uint32_t, void* user) {
    auto* s = static_cast<BlockStop*>(user);
    if (++s->hooks >= s->budget) uc_emu_stop(uc);
  };
  ASSERT_EQ(uc_hook_add(uc_, &h, UC_HOOK_BLOCK, reinterpret_cast<void*>(cb), &st, 1, 0), UC_ERR_OK);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(st.hooks, 1000);
  EXPECT_EQ(get(UC_X86_REG_RBX), 999u);  // the 1000th block did not run
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode);
}

TEST_F(Engine, RdmsrCannotBeHookedButASiteCodeHookWritingRipReplacesIt) {
  uc_hook h;
  EXPECT_EQ(uc_hook_add(uc_, &h, UC_HOOK_INSN, nullptr, nullptr, 1, 0, UC_X86_INS_RDMSR), UC_ERR_HOOK);
  // mov ecx, 0x40000001; rdmsr; mov rsi, rax; hlt
  code(kCode, {0xb9, 0x01, 0, 0, 0x40, 0x0f, 0x32, 0x48, 0x89, 0xc6, 0xf4});
  auto site = +[](uc_engine* uc, uint64_t addr, uint32_t, void*) {
    uint64_t a = 0x1111, d = 0x2222, rip = addr + 2;
    uc_reg_write(uc, UC_X86_REG_RAX, &a);
    uc_reg_write(uc, UC_X86_REG_RDX, &d);
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);
  };
  ASSERT_EQ(uc_hook_add(uc_, &h, UC_HOOK_CODE, reinterpret_cast<void*>(site), nullptr, kCode + 5, kCode + 5), UC_ERR_OK);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(get(UC_X86_REG_RSI), 0x1111u);
  EXPECT_EQ(get(UC_X86_REG_RDX), 0x2222u);
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 11);
}

TEST_F(Engine, StopFromAHookThatAlsoWritesRipStopsThere) {
  // nop; (site) nop; nop; nop; jmp next; next: hlt
  code(kCode, {0x90, 0x90, 0x90, 0x90, 0xeb, 0x00, 0xf4});
  uc_hook h;
  auto site = +[](uc_engine* uc, uint64_t addr, uint32_t, void*) {
    uint64_t next = addr + 1;
    uc_emu_stop(uc);
    uc_reg_write(uc, UC_X86_REG_RIP, &next);
  };
  uc_hook_add(uc_, &h, UC_HOOK_CODE, reinterpret_cast<void*>(site), nullptr, kCode + 1, kCode + 1);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  // A site hook that emulates its instruction and must end the run (UnicornVcpu::
  // stop_after_current) stops right after it, at the RIP it wrote.
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 2);
}

TEST_F(Engine, DecliningVmcallInTheInvalidInsnHookStopsPreciselyAtIt) {
  // hvsim services hypercalls with the engine stopped (UnicornVcpu::run_hypercall).
  code(kCode, {0x90, 0x0f, 0x01, 0xc1, 0xf4});
  int invalid = 0;
  uc_hook h;
  auto inv = +[](uc_engine*, void* user) -> bool {
    ++*static_cast<int*>(user);
    return false;
  };
  uc_hook_add(uc_, &h, UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(inv), &invalid, 1, 0);
  EXPECT_EQ(run(kCode), UC_ERR_INSN_INVALID);
  EXPECT_EQ(invalid, 1);
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 1);
  set(UC_X86_REG_RIP, kCode + 4);  // the host skips it, as after a completed hypercall
  EXPECT_EQ(run(kCode + 4), UC_ERR_OK);  // and the engine runs on (to the hlt)
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 5);
}

TEST_F(Engine, SyscallIsSkippedWithoutEnteringTheKernel) {
  uc_x86_msr lstar{0xc0000082, 0x200000};
  uc_reg_write(uc_, UC_X86_REG_MSR, &lstar);
  code(kCode, {0x0f, 0x05, 0xf4});
  int calls = 0;
  uc_hook h;
  auto cb = +[](uc_engine*, void* user) { ++*static_cast<int*>(user); };
  uc_hook_add(uc_, &h, UC_HOOK_INSN, reinterpret_cast<void*>(cb), &calls, 1, 0, UC_X86_INS_SYSCALL);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 3);  // past the syscall and the hlt: no jump to LSTAR
  EXPECT_EQ(get(UC_X86_REG_RCX), 0u);
}

TEST_F(Engine, ContextBlobLayoutIsFoundAndCplSwitchWorks) {
  CpuStateBlob blob(uc_);
  std::string why;
  ASSERT_TRUE(blob.locate(why)) << why;
  IntrLog log;
  uc_hook h;
  uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&log_intr), &log, 1, 0);
  // iretq to CPL 3 (CS 0x2b, SS 0x23), where mov rax, cr0 faults with #GP.
  code(kCode, {0x6a, 0x23, 0x68, 0x00, 0x80, 0x00, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x68, 0x00, 0x02, 0x10, 0x00, 0x48, 0xcf});
  code(kCode + 0x200, {0x0f, 0x20, 0xc0, 0xf4});
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  ASSERT_EQ(log.vectors, std::vector<uint32_t>{13});
  blob.load();
  EXPECT_EQ(blob.cpl(), 3u);
  EXPECT_EQ(blob.gdt().base, 0x5000u);
  EXPECT_EQ(blob.cr(0), get(UC_X86_REG_CR0));
  EXPECT_EQ(blob.cr(3), 0x1000u);
  EXPECT_EQ(blob.cr(4), get(UC_X86_REG_CR4));
  uc_x86_msr efer{0xc0000080, 0};
  uc_reg_read(uc_, UC_X86_REG_MSR, &efer);
  EXPECT_EQ(blob.efer(), efer.value);
  EXPECT_NE(blob.efer() & 0x400, 0u);  // LMA
  EXPECT_NE(blob.pending_exception(), -1);  // QEMU's in-flight state, cleared before redelivery
  // Host switch to CPL 0 through the blob, then the privileged instruction runs.
  blob.clear_pending_exception();
  blob.load_segment(SegReg::kCS, x86::SegmentCache{0x08, 0, 0xffffffff, 0x00af9b00});
  blob.load_segment(SegReg::kSS, x86::SegmentCache{0x10, 0, 0xffffffff, 0x00cf9300});
  blob.store();
  blob.load();
  EXPECT_EQ(blob.cpl(), 0u);
  code(kCode + 0x300, {0x0f, 0x20, 0xc0, 0xf4});
  ASSERT_EQ(run(kCode + 0x300), UC_ERR_OK);
  EXPECT_EQ(log.vectors.size(), 1u);
  EXPECT_EQ(get(UC_X86_REG_RAX), get(UC_X86_REG_CR0));
}

TEST_F(Engine, ErrorCodeIsReadableInTheHook) {
  CpuStateBlob blob(uc_);
  std::string why;
  ASSERT_TRUE(blob.locate(why)) << why;
  IntrLog log;
  log.blob = &blob;
  uc_hook h;
  uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&log_intr), &log, 1, 0);
  // mov rax, 0x80000000 (2 GiB: PDPT[2] not present); mov qword [rax], 0  -> #PF, write
  code(kCode, {0x48, 0xb8, 0, 0, 0, 0x80, 0, 0, 0, 0, 0x48, 0xc7, 0x00, 0, 0, 0, 0});
  run(kCode);
  ASSERT_EQ(log.vectors, std::vector<uint32_t>{14});
  EXPECT_EQ(log.error_codes, std::vector<int>{2});
  EXPECT_EQ(get(UC_X86_REG_CR2), 0x80000000u);
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode + 10);  // precise: the faulting store
}

// xor ecx, ecx; div ecx (#DE, a contributory exception)
const std::vector<uint8_t> kDivideByZero = {0x31, 0xc9, 0xf7, 0xf1};

TEST_F(Engine, AHookedExceptionStaysInFlightAndPromotesTheNextToDoubleFault) {
  CpuStateBlob blob(uc_);
  std::string why;
  ASSERT_TRUE(blob.locate(why)) << why;
  IntrLog log;
  uc_hook h;
  uc_hook_add(uc_, &h, UC_HOOK_INTR, reinterpret_cast<void*>(&log_intr), &log, 1, 0);
  code(kCode, kDivideByZero);
  run(kCode);
  blob.load();
  EXPECT_EQ(blob.pending_exception(), 0);  // #DE, still "in flight" for QEMU
  run(kCode);                              // the same fault again, nothing cleared
  EXPECT_EQ(log.vectors, (std::vector<uint32_t>{0, 8}));  // promoted to #DF
  blob.load();
  blob.clear_pending_exception();          // what UnicornVcpu does before the next start
  blob.store();
  run(kCode);
  EXPECT_EQ(log.vectors, (std::vector<uint32_t>{0, 8, 0}));
}

// Why UnicornVcpu runs in exits mode: an `until` address makes every uc_emu_start translate it (to
// flush its block); one outside the guest's page tables raises #GP inside QEMU, which stays in flight.
TEST_F(Engine, AnUntilAddressOutsideThePageTablesLeavesAGpInFlightButExitsModeDoesNot) {
  CpuStateBlob blob(uc_);
  std::string why;
  ASSERT_TRUE(blob.locate(why)) << why;
  code(kCode, {0x90, 0xf4});  // nop; hlt
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  blob.load();
  EXPECT_EQ(blob.pending_exception(), -1);
  ASSERT_EQ(uc_ctl_exits_disable(uc_), UC_ERR_OK);
  ASSERT_EQ(uc_emu_start(uc_, kCode, 0xdead000000000000ull, 0, 0), UC_ERR_OK);
  blob.load();
  EXPECT_EQ(blob.pending_exception(), 13);
}

// Guest read watches (sim/cpu/unicorn_vcpu_watches.cc) rely on the next three.
namespace {

struct ReadLog {
  std::vector<uint64_t> addrs, rips;
  bool stop = false;  // stop the engine before the reading instruction
};

void log_read(uc_engine* uc, int, uint64_t addr, int, int64_t, void* user) {
  auto* log = static_cast<ReadLog*>(user);
  uint64_t rip = 0;
  uc_reg_read(uc, UC_X86_REG_RIP, &rip);
  log->addrs.push_back(addr);
  log->rips.push_back(rip);
  if (log->stop) {
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);
    uc_emu_stop(uc);
  }
}

// inc rcx; mov rax, 0x40300010; mov rbx, [rax]; inc rdx; hlt  -- GVA 1G+3M+16 is GPA 3M+16
const std::vector<uint8_t> kLoadThroughAlias = {0x48, 0xff, 0xc1, 0x48, 0xb8, 0x10, 0, 0x30, 0x40, 0, 0, 0, 0,
                                                0x48, 0x8b, 0x18, 0x48, 0xff, 0xc2, 0xf4};
constexpr uint64_t kLoadAt = kCode + 13;

}  // namespace

TEST_F(Engine, AMemReadHookSeesTheGuestPhysicalAddressAndTheReadingRip) {
  code(kCode, kLoadThroughAlias);
  put64(0x300010, 0x77);
  ReadLog log;
  uc_hook h;
  ASSERT_EQ(uc_hook_add(uc_, &h, UC_HOOK_MEM_READ, reinterpret_cast<void*>(&log_read), &log, 0x300000, 0x300fff), UC_ERR_OK);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(log.addrs, std::vector<uint64_t>{0x300010});  // physical, and the bounds are physical too
  EXPECT_EQ(log.rips, std::vector<uint64_t>{kLoadAt});
  EXPECT_EQ(get(UC_X86_REG_RBX), 0x77u);
}

TEST_F(Engine, AMemReadHookSeesOnlyLoadsTranslatedWhileSomeMemHookExisted) {
  code(kCode, kLoadThroughAlias);
  ASSERT_EQ(run(kCode), UC_ERR_OK);  // translated without a memory hook
  ReadLog log;
  uc_hook h;
  uc_hook_add(uc_, &h, UC_HOOK_MEM_READ, reinterpret_cast<void*>(&log_read), &log, 1, 0);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_TRUE(log.addrs.empty());  // the old translation's load takes the fast path
  uc_ctl_remove_cache(uc_, kCode, kCode + 0x1000);  // (uc_ctl_flush_tb works too, but takes seconds)
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(log.addrs.size(), 1u);
}

TEST_F(Engine, StoppingInAMemReadHookWithRipWrittenBackAbandonsTheReadingInstruction) {
  code(kCode, kLoadThroughAlias);
  put64(0x300010, 0x77);
  ReadLog log;
  log.stop = true;
  uc_hook h;
  uc_hook_add(uc_, &h, UC_HOOK_MEM_READ, reinterpret_cast<void*>(&log_read), &log, 1, 0);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(get(UC_X86_REG_RIP), kLoadAt);
  EXPECT_EQ(get(UC_X86_REG_RCX), 1u);  // the instructions before it ran
  EXPECT_EQ(get(UC_X86_REG_RBX), 0u);  // the load did not complete
  EXPECT_EQ(get(UC_X86_REG_RDX), 0u);  // nothing after it ran
  uc_hook_del(uc_, h);
  uc_ctl_remove_cache(uc_, kCode, kCode + 0x1000);
  ASSERT_EQ(run(kLoadAt), UC_ERR_OK);  // restarting there runs it
  EXPECT_EQ(get(UC_X86_REG_RBX), 0x77u);
  EXPECT_EQ(get(UC_X86_REG_RDX), 1u);
}

bool refuse_write(uc_engine*, uc_mem_type, uint64_t addr, int, int64_t, void* user) {
  *static_cast<uint64_t*>(user) = addr;
  return false;
}

// UnicornVcpu's read-only overlays (store_locator.h) rely on all of this.
TEST_F(Engine, WriteToAProtectedPageStopsRightAfterTheRefusedStoreWithRipAtTheBlockStart) {
  // xor ebx, ebx; mov edi, 0x300010; inc rbx; mov [rdi], rax; inc rbx; hlt
  code(kCode, {0x31, 0xdb, 0xbf, 0x10, 0x00, 0x30, 0x00, 0x48, 0xff, 0xc3, 0x48, 0x89, 0x07, 0x48, 0xff, 0xc3, 0xf4});
  uint64_t refused = 0;
  uc_hook h;
  uc_hook_add(uc_, &h, UC_HOOK_MEM_WRITE_PROT, reinterpret_cast<void*>(&refuse_write), &refused, 1, 0);
  ASSERT_EQ(run(kCode), UC_ERR_OK);  // writable: the store lands
  ASSERT_EQ(uc_mem_protect(uc_, 0x300000, 0x1000, UC_PROT_READ | UC_PROT_EXEC), UC_ERR_OK);  // TLB entry cached
  put64(0x300010, 0);
  set(UC_X86_REG_RAX, 0x55);
  EXPECT_EQ(run(kCode), UC_ERR_WRITE_PROT);
  EXPECT_EQ(refused, 0x300010u);                // the guest-physical address of the store
  EXPECT_EQ(get(UC_X86_REG_RIP), kCode);        // not synced to the storing instruction
  EXPECT_EQ(get(UC_X86_REG_RBX), 1u);           // earlier instructions ran, later ones did not
  uint64_t v;
  std::memcpy(&v, &ram_[0x300010], 8);
  EXPECT_EQ(v, 0u);                             // the store did not land
  uint8_t byte = 0xcc;
  EXPECT_EQ(uc_mem_write(uc_, 0x300000, &byte, 1), UC_ERR_OK);  // host writes ignore the protection
  code(0x300100, {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xf4});       // mov eax, 42; hlt: still executes
  ASSERT_EQ(run(0x300100), UC_ERR_OK);
  EXPECT_EQ(get(UC_X86_REG_RAX), 42u);
  ASSERT_EQ(uc_mem_protect(uc_, 0x300000, 0x1000, UC_PROT_ALL), UC_ERR_OK);
  EXPECT_EQ(run(kCode), UC_ERR_OK);
  std::memcpy(&v, &ram_[0x300010], 8);
  EXPECT_EQ(v, 42u);
}

// UnicornVcpu maps RAM in chunks (one uc_mem_map_ptr each, adjacent, over one buffer) so that a
// uc_mem_protect splits only its chunk: code and data may straddle two chunks, and a chunk split
// by a protection leaves the other running.
TEST_F(Engine, AdjacentRamChunksBehaveAsOneRegionAndSplitAlone) {
  constexpr uint64_t kChunk = kRam / 4;
  ASSERT_EQ(uc_mem_unmap(uc_, 0, kRam), UC_ERR_OK);
  for (uint64_t at = 0; at < kRam; at += kChunk)
    ASSERT_EQ(uc_mem_map_ptr(uc_, at, kChunk, UC_PROT_ALL, ram_.data() + at), UC_ERR_OK);
  // Data across the first boundary: mov rax, [kChunk - 4]; mov [kChunk - 2], rbx; hlt
  code(kCode, {0x48, 0x8b, 0x04, 0x25, 0xfc, 0xff, 0x3f, 0x00, 0x48, 0x89, 0x1c, 0x25, 0xfe, 0xff, 0x3f, 0x00, 0xf4});
  put64(kChunk - 4, 0x0123456789abcdefull);
  set(UC_X86_REG_RBX, 0x1122334455667788ull);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  EXPECT_EQ(get(UC_X86_REG_RAX), 0x0123456789abcdefull);
  uint64_t v;
  std::memcpy(&v, &ram_[kChunk - 2], 8);
  EXPECT_EQ(v, 0x1122334455667788ull);
  // Code across the second boundary: mov eax, 42; inc eax; hlt
  code(2 * kChunk - 3, {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xff, 0xc0, 0xf4});
  ASSERT_EQ(run(2 * kChunk - 3), UC_ERR_OK);
  EXPECT_EQ(get(UC_X86_REG_RAX), 43u);
  // A protection inside the third chunk splits that chunk only; the others still run and store.
  ASSERT_EQ(uc_mem_protect(uc_, 3 * kChunk + 0x10000, 0x1000, UC_PROT_READ | UC_PROT_EXEC), UC_ERR_OK);
  uc_mem_region* regions = nullptr;
  uint32_t n = 0;
  ASSERT_EQ(uc_mem_regions(uc_, &regions, &n), UC_ERR_OK);
  EXPECT_EQ(n, 6u);  // three chunks untouched, the fourth in three pieces
  uc_free(regions);
  set(UC_X86_REG_RBX, 0x99);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  std::memcpy(&v, &ram_[kChunk - 2], 8);
  EXPECT_EQ(v, 0x99u);
}

// Why UnicornVcpu sets CR2 through the state copy: the API's CR2 write also writes CR3.
TEST_F(Engine, ApiCr2WriteAlsoSetsCr3ButTheBlobSetsCr2Alone) {
  CpuStateBlob blob(uc_);
  std::string why;
  ASSERT_TRUE(blob.locate(why)) << why;
  EXPECT_EQ(get(UC_X86_REG_CR3), 0x1000u);  // locate() leaves CR2 and CR3 as they were
  set(UC_X86_REG_CR2, 0x1234);
  EXPECT_EQ(get(UC_X86_REG_CR3), 0x1234u);  // the quirk
  set(UC_X86_REG_CR3, 0x1000);
  blob.load();
  blob.set_cr2(0x5678);
  blob.store();
  EXPECT_EQ(get(UC_X86_REG_CR2), 0x5678u);
  EXPECT_EQ(get(UC_X86_REG_CR3), 0x1000u);
  code(kCode, {0x90, 0xf4});  // and the paging structures still work
  EXPECT_EQ(run(kCode), UC_ERR_OK);
}

}  // namespace hvsim
