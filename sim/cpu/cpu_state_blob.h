// Access to CPU state that Unicorn 2.1's API does not expose, through the uc_context blob (a raw
// copy of QEMU's CPUX86State; UNICORN.md §4): the CPL and segment caches (so the host can switch
// privilege as SYSCALL and interrupt delivery do on hardware), the exception error code and
// "is software interrupt" flag, QEMU's in-flight exception (reset after each host delivery, or the
// next fault turns into #DF), the STI/MOV-SS interrupt shadow, and (read-only) the descriptor
// tables, control registers and EFER.
//
// DEVNOTE: field offsets are not hard-coded blindly: locate() finds CPUX86State inside the blob by
// writing marker values through the API (RAX/RCX, FS base, DR0) and checks that the QEMU 5.0
// layout holds; if it does not, the machine refuses to start. tests/contract pins every use.
#pragma once

#include <cstdint>
#include <string>

#include "sim/cpu/x86_delivery.h"

struct uc_struct;
struct uc_context;

namespace hvsim {

enum class SegReg : int { kES = 0, kCS = 1, kSS = 2, kDS = 3, kFS = 4, kGS = 5 };

class CpuStateBlob {
 public:
  explicit CpuStateBlob(uc_struct* uc);
  ~CpuStateBlob();
  CpuStateBlob(const CpuStateBlob&) = delete;
  CpuStateBlob& operator=(const CpuStateBlob&) = delete;

  // Finds the layout; false with a reason if this Unicorn build does not match.
  bool locate(std::string& why);

  // Copies the engine's state in; edits apply to the copy until store().
  void load();
  void store();

  uint32_t hflags() const;
  unsigned cpl() const { return hflags() & 3; }
  bool interrupt_shadow() const { return hflags() & (1u << 3); }
  bool code64() const { return hflags() & (1u << 15); }  // QEMU HF_CS64: long mode and CS.L
  int error_code() const;
  bool exception_is_int() const;
  int pending_exception() const;  // QEMU old_exception, -1 if none
  void clear_pending_exception();  // QEMU old_exception = -1
  x86::SegmentCache segment(SegReg s) const;
  // The descriptor tables and control registers of the same copy (what an interrupt delivery
  // reads: one copy instead of a register read each).
  struct Table { uint64_t base = 0; uint32_t limit = 0; };
  Table gdt() const;
  Table idt() const;
  uint64_t tr_base() const;
  uint64_t cr(unsigned n) const;  // CR0, CR2, CR3, CR4 (n = 0, 2, 3, 4)
  // CR2 as a #PF delivery sets it (Unicorn's own CR2 write also changes CR3: tests/contract).
  void set_cr2(uint64_t v);
  uint64_t efer() const;
  // Loads a segment cache and updates the mode flags QEMU derives from it (CPL from SS.DPL,
  // 16/32/64-bit code and stack, segment-base addition), as a descriptor load does.
  void load_segment(SegReg s, const x86::SegmentCache& c);

 private:
  uint8_t* env() const;
  uc_struct* uc_;
  uc_context* ctx_ = nullptr;
  size_t env_offset_ = 0;
  size_t dr_offset_ = 0;
};

}  // namespace hvsim
