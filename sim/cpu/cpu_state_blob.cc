#include "sim/cpu/cpu_state_blob.h"

#include <unicorn/unicorn.h>

#include <cstring>

#include "sim/core/status.h"
#include "sim/cpu/x86_defs.h"

namespace hvsim {
namespace {

// QEMU 5.0 CPUX86State offsets (Unicorn 2.1): regs[16], eip, eflags, cc_dst, cc_src, cc_src2,
// cc_op, df, hflags, hflags2, segs[6] of {u32 selector; u64 base; u32 limit; u32 flags}.
constexpr size_t kHflags = 176, kSegs = 184, kSegSize = 24;
constexpr size_t kSegSel = 0, kSegBase = 8, kSegLimit = 16, kSegFlags = 20;
// Then SegmentCache ldt, tr, gdt, idt; target_ulong cr[5]; int32_t a20_mask; BNDReg bnd_regs[4];
// BNDCSReg bndcs_regs; uint64_t msr_bndcfgs; uint64_t efer.
constexpr size_t kTr = kSegs + 7 * kSegSize, kGdt = kSegs + 8 * kSegSize, kIdt = kSegs + 9 * kSegSize,
                 kCr = kSegs + 10 * kSegSize, kEfer = kCr + 5 * 8 + 8 + 4 * 16 + 16 + 8;
// Relative to dr[0]: int error_code; int exception_is_int; target_ulong exception_next_eip;
// target_ulong dr[8]; void* breakpoints[4]; int old_exception.
constexpr long kErrorCodeFromDr = -16, kIsIntFromDr = -12, kOldExceptionFromDr = 96;

constexpr uint32_t kHfCpl = 3, kHfCs32 = 1u << 4, kHfSs32 = 1u << 5, kHfAddseg = 1u << 6,
                   kHfPe = 1u << 7, kHfLma = 1u << 14, kHfCs64 = 1u << 15;

template <typename T> T get(const uint8_t* p) { T v; std::memcpy(&v, p, sizeof v); return v; }
template <typename T> void put(uint8_t* p, T v) { std::memcpy(p, &v, sizeof v); }

long find_u64(const uint8_t* p, size_t n, uint64_t marker) {
  for (size_t i = 0; i + 8 <= n; ++i)
    if (std::memcmp(p + i, &marker, 8) == 0) return static_cast<long>(i);
  return -1;
}

}  // namespace

CpuStateBlob::CpuStateBlob(uc_struct* uc) : uc_(uc) {
  SIM_ASSERT(uc_context_alloc(uc_, &ctx_) == UC_ERR_OK, "uc_context_alloc failed");
}

CpuStateBlob::~CpuStateBlob() { uc_context_free(ctx_); }

uint8_t* CpuStateBlob::env() const { return reinterpret_cast<uint8_t*>(ctx_) + env_offset_; }

bool CpuStateBlob::locate(std::string& why) {
  const uint64_t m_rax = 0x48565349'4d524158ull, m_rcx = 0x48565349'4d524358ull,
                 m_fs = 0x00004856'5346535aull, m_dr0 = 0x48565349'4d445230ull;
  const uint64_t m_gdt = 0x00004856'53474454ull, m_idt = 0x00004856'53494454ull, m_tr = 0x00004856'53545200ull;
  uint64_t saved[4];
  int regs[4] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_FS_BASE, UC_X86_REG_DR0};
  for (int i = 0; i < 4; ++i) uc_reg_read(uc_, regs[i], &saved[i]);
  uc_x86_mmr saved_gdt{}, saved_idt{}, saved_tr{};
  uc_reg_read(uc_, UC_X86_REG_GDTR, &saved_gdt);
  uc_reg_read(uc_, UC_X86_REG_IDTR, &saved_idt);
  uc_reg_read(uc_, UC_X86_REG_TR, &saved_tr);
  uint64_t markers[4] = {m_rax, m_rcx, m_fs, m_dr0};
  for (int i = 0; i < 4; ++i) uc_reg_write(uc_, regs[i], &markers[i]);
  uc_x86_mmr mark_gdt{0, m_gdt, 0x1234, 0}, mark_idt{0, m_idt, 0x4321, 0}, mark_tr{saved_tr.selector, m_tr, 0x67, saved_tr.flags};
  uc_reg_write(uc_, UC_X86_REG_GDTR, &mark_gdt);
  uc_reg_write(uc_, UC_X86_REG_IDTR, &mark_idt);
  uc_reg_write(uc_, UC_X86_REG_TR, &mark_tr);
  // CR2 has a marker too. Unicorn 2.1.1's CR2 write also writes CR3 (tests/contract): CR3 is
  // written back after each CR2 write.
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, saved_cr2 = 0;
  const uint64_t m_cr2 = 0x00004856'53435232ull;
  uc_reg_read(uc_, UC_X86_REG_CR0, &cr0);
  uc_reg_read(uc_, UC_X86_REG_CR2, &saved_cr2);
  uc_reg_read(uc_, UC_X86_REG_CR3, &cr3);
  uc_reg_read(uc_, UC_X86_REG_CR4, &cr4);
  uc_x86_msr efer{0xc0000080, 0};
  uc_reg_read(uc_, UC_X86_REG_MSR, &efer);
  uc_reg_write(uc_, UC_X86_REG_CR2, &m_cr2);
  uc_reg_write(uc_, UC_X86_REG_CR3, &cr3);
  uc_context_save(uc_, ctx_);
  uc_reg_write(uc_, UC_X86_REG_CR2, &saved_cr2);
  uc_reg_write(uc_, UC_X86_REG_CR3, &cr3);
  for (int i = 0; i < 4; ++i) uc_reg_write(uc_, regs[i], &saved[i]);
  uc_reg_write(uc_, UC_X86_REG_GDTR, &saved_gdt);
  uc_reg_write(uc_, UC_X86_REG_IDTR, &saved_idt);
  uc_reg_write(uc_, UC_X86_REG_TR, &saved_tr);
  const auto* p = reinterpret_cast<const uint8_t*>(ctx_);
  size_t n = uc_context_size(uc_);
  long rax = find_u64(p, n, m_rax);
  long dr0 = find_u64(p, n, m_dr0);
  if (rax < 0 || dr0 < 0) { why = "CPU state markers not found in uc_context"; return false; }
  env_offset_ = static_cast<size_t>(rax);
  dr_offset_ = static_cast<size_t>(dr0 - rax);
  if (get<uint64_t>(env() + 8) != m_rcx) { why = "uc_context: regs[] layout differs"; return false; }
  if (get<uint64_t>(env() + kSegs + 4 * kSegSize + kSegBase) != m_fs) { why = "uc_context: segs[] layout differs"; return false; }
  if (get<int>(env() + dr_offset_ + kOldExceptionFromDr) != -1) { why = "uc_context: old_exception not found"; return false; }
  if (gdt().base != m_gdt || gdt().limit != 0x1234 || idt().base != m_idt || idt().limit != 0x4321 ||
      tr_base() != m_tr) {
    why = "uc_context: descriptor-table layout differs";
    return false;
  }
  if (cr(0) != cr0 || cr(2) != m_cr2 || cr(3) != cr3 || cr(4) != cr4 || this->efer() != efer.value) {
    why = "uc_context: control-register layout differs";
    return false;
  }
  return true;
}

void CpuStateBlob::load() { uc_context_save(uc_, ctx_); }
void CpuStateBlob::store() { uc_context_restore(uc_, ctx_); }

uint32_t CpuStateBlob::hflags() const { return get<uint32_t>(env() + kHflags); }
int CpuStateBlob::error_code() const { return get<int>(env() + dr_offset_ + kErrorCodeFromDr); }
bool CpuStateBlob::exception_is_int() const { return get<int>(env() + dr_offset_ + kIsIntFromDr) != 0; }
int CpuStateBlob::pending_exception() const { return get<int>(env() + dr_offset_ + kOldExceptionFromDr); }
void CpuStateBlob::clear_pending_exception() { put<int>(env() + dr_offset_ + kOldExceptionFromDr, -1); }

x86::SegmentCache CpuStateBlob::segment(SegReg s) const {
  const uint8_t* seg = env() + kSegs + static_cast<size_t>(s) * kSegSize;
  x86::SegmentCache c;
  c.selector = static_cast<uint16_t>(get<uint32_t>(seg + kSegSel));
  c.base = get<uint64_t>(seg + kSegBase);
  c.limit = get<uint32_t>(seg + kSegLimit);
  c.flags = get<uint32_t>(seg + kSegFlags);
  return c;
}

CpuStateBlob::Table CpuStateBlob::gdt() const { return {get<uint64_t>(env() + kGdt + kSegBase), get<uint32_t>(env() + kGdt + kSegLimit)}; }
CpuStateBlob::Table CpuStateBlob::idt() const { return {get<uint64_t>(env() + kIdt + kSegBase), get<uint32_t>(env() + kIdt + kSegLimit)}; }
uint64_t CpuStateBlob::tr_base() const { return get<uint64_t>(env() + kTr + kSegBase); }
uint64_t CpuStateBlob::cr(unsigned n) const { return n < 5 ? get<uint64_t>(env() + kCr + 8 * n) : 0; }
void CpuStateBlob::set_cr2(uint64_t v) { put<uint64_t>(env() + kCr + 16, v); }
uint64_t CpuStateBlob::efer() const { return get<uint64_t>(env() + kEfer); }

void CpuStateBlob::load_segment(SegReg s, const x86::SegmentCache& c) {
  uint8_t* seg = env() + kSegs + static_cast<size_t>(s) * kSegSize;
  put<uint32_t>(seg + kSegSel, c.selector);
  put<uint64_t>(seg + kSegBase, c.base);
  put<uint32_t>(seg + kSegLimit, c.limit);
  put<uint32_t>(seg + kSegFlags, c.flags);

  // The mode bits QEMU keeps in hflags, recomputed as its segment-cache load does.
  uint32_t hf = hflags();
  if (s == SegReg::kCS) {
    if ((hf & kHfLma) && (c.flags & x86::kDescL)) {
      hf |= kHfCs32 | kHfSs32 | kHfCs64;
    } else {
      hf &= ~(kHfCs32 | kHfCs64);
      if (c.flags & x86::kDescDb) hf |= kHfCs32;
    }
  }
  if (s == SegReg::kSS) hf = (hf & ~kHfCpl) | ((c.flags >> x86::kDescDplShift) & 3);
  uint32_t ss32 = (segment(SegReg::kSS).flags & x86::kDescDb) ? kHfSs32 : 0;
  uint32_t addseg = 0;
  if (!(hf & kHfCs64)) {
    if (!(hf & kHfPe) || !(hf & kHfCs32))
      addseg = kHfAddseg;
    else if ((segment(SegReg::kDS).base | segment(SegReg::kES).base | segment(SegReg::kSS).base) != 0)
      addseg = kHfAddseg;
  }
  hf = (hf & ~(kHfSs32 | kHfAddseg)) | ss32 | addseg;
  put<uint32_t>(env() + kHflags, hf);
}

}  // namespace hvsim
