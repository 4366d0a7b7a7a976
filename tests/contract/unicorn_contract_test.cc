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
  uc_err run(uint64_t at) { return uc_emu_start(uc_, at, 0xdead000000000000ull, 0, 0); }

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

TEST_F(Engine, ErrorCodeIsReadableInTheHookAndOverwrittenAfter) {
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
  blob.load();
  EXPECT_EQ(blob.error_code(), 0);  // QEMU has overwritten it by the time uc_emu_start returns
}

TEST_F(Engine, BlockHookStopLeavesAnInFlightExceptionThatClearingRemoves) {
  CpuStateBlob blob(uc_);
  std::string why;
  ASSERT_TRUE(blob.locate(why)) << why;
  // nop; jmp next; next: xor ecx,ecx; div ecx (#DE)
  code(kCode, {0x90, 0xeb, 0x00, 0x31, 0xc9, 0xf7, 0xf1});
  BlockStop st{0, 1};
  uc_hook hb, hi;
  auto cb = +[](uc_engine* uc, uint64_t, uint32_t, void* user) {
    auto* s = static_cast<BlockStop*>(user);
    if (++s->hooks == s->budget) uc_emu_stop(uc);
  };
  uc_hook_add(uc_, &hb, UC_HOOK_BLOCK, reinterpret_cast<void*>(cb), &st, 1, 0);
  IntrLog log;
  uc_hook_add(uc_, &hi, UC_HOOK_INTR, reinterpret_cast<void*>(&log_intr), &log, 1, 0);
  ASSERT_EQ(run(kCode), UC_ERR_OK);
  blob.load();
  EXPECT_NE(blob.pending_exception(), -1);  // the quirk hvsim works around (unicorn_vcpu.cc)
  blob.clear_pending_exception();
  blob.store();
  run(get(UC_X86_REG_RIP));
  EXPECT_EQ(log.vectors, std::vector<uint32_t>{0});  // #DE, not promoted to #DF
}

}  // namespace hvsim
