// The narrow view of one hypercall in progress on one VP that the CPU side gives the dispatcher
// (sans-IO: the dispatcher never sees a register file). It follows the x64 register convention of
// PROTOCOL.md §3.2 / TLFS hypercall-interface.md: RCX control word, RDX/R8 input and output GPAs
// (or the first two fast input qwords), XMM0-XMM5 for XMM fast input/output, RAX result value.
// The CPU side also reports the caller's mode and CPL, which decide #UD (TLFS "Legal Hypercall
// Environments"), and gives the caller's view of guest memory for the parameter blocks: what the
// VP's own loads and stores see, overlay pages included (on Hyper-V an overlay occupies its GPA).
// Omitted: the x86-32 convention (EDX:EAX...) and arm64 (§3.3, §3.4); fast output through RDX/R8
// (hvsim writes fast output to XMM registers only).
#pragma once

#include <cstdint>

#include "sim/core/physical_memory.h"

namespace hvsim::hv {

class HypercallIo {  // one hypercall in progress on one VP
 public:
  virtual ~HypercallIo() = default;
  virtual uint64_t control() const = 0;     // RCX
  virtual uint64_t input_gpa() const = 0;   // RDX (memory form) / fast input qword 0
  virtual uint64_t output_gpa() const = 0;  // R8 (memory form) / fast input qword 1
  // Whether the CPU side can read and write XMM0-XMM5 for this VP (hv-xmm-input enabled there).
  virtual bool xmm_fast_available() const = 0;
  // XMM0..XMM5 as qwords 0..11 (qword 2n = low half of XMMn, 2n+1 = high half).
  virtual uint64_t xmm_input(unsigned qword) const = 0;
  virtual void set_xmm_output(unsigned qword, uint64_t v) = 0;
  virtual void set_result(uint64_t rax) = 0;  // RAX
  // RCX, rewritten with the new rep start index when the call is continued (outcome.retry).
  virtual void set_control(uint64_t rcx) = 0;
  virtual bool is_64bit_mode() const = 0;  // EFER.LMA && CS.L
  virtual unsigned cpl() const = 0;
  // Guest memory as this VP sees it (memory-form input and output blocks); a write the VP could
  // not make itself (outside RAM, a read-only overlay such as the hypercall page) fails.
  virtual PhysicalMemory& memory() = 0;
};

}  // namespace hvsim::hv
