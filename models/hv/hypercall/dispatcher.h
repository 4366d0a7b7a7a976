// The hypercall dispatcher: decodes the hypercall input value (PROTOCOL.md §3.1, TLFS
// hypercall-interface.md), checks it in the order below, fetches the input block (memory, fast
// registers or XMM fast registers, §3.2), runs the call's handler (handlers.h), stores the output
// and the result value (status | reps completed << 32). Sans-IO: registers and the calling VP's
// view of guest memory come through HypercallIo, host effects through HypercallTarget.
// Rep calls do at most `max_reps_per_dispatch` elements per dispatch and then ask the CPU side to
// re-execute the instruction with the updated rep start index (TLFS "Hypercall Continuation").
// Every dispatch emits one TracePoint::kHcall record. Omitted: the x86-32 and arm64 conventions,
// fast output through RDX/R8, the hypercall-page enable check (the machine routes VMCALL only when
// the hypercall page is enabled; otherwise it #UDs itself, as KVM does).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "models/hv/hvdef_hypercall.h"
#include "models/hv/hypercall/handlers.h"
#include "models/hv/hypercall/hypercall_io.h"
#include "models/hv/model_support.h"

namespace hvsim::hv {

// Rep elements done per dispatch before a continuation. One input page holds at most 1020 rep
// elements (4-byte names of GetVpRegisters), so a call needs at most 8 continuations; 128 elements
// is far below TLFS's 50 µs budget for any element hvsim processes.
constexpr uint32_t kDefaultMaxRepsPerDispatch = 128;

// Which calls the partition may make. A call whose flag is off answers HV_STATUS_ACCESS_DENIED, as
// Hyper-V does for a privilege the partition lacks (§1.3) and KVM does for an unadvertised feature.
// The machine sets these from the enlightenments it advertises in CPUID.
struct HypercallConfig {
  bool long_spin_wait = true;      // HvCallNotifyLongSpinWait (0x40000004 EBX spinlock retries != ~0)
  bool post_messages = true;       // HvCallPostMessage (CPUID 0x40000003 EBX b4; needs SynIC)
  bool signal_events = true;       // HvCallSignalEvent (EBX b5; needs SynIC)
  bool tlb_flush = true;           // HvCallFlushVirtualAddressSpace/List (0x40000004 EAX b2)
  bool extended_gva_ranges = true; // flush flag b3, extended GVA range format (0x40000003 EDX b14)
  bool cluster_ipi = true;         // HvCallSendSyntheticClusterIpi (0x40000004 EAX b10)
  bool ex_processor_masks = true;  // the Ex variants 0x13/0x14/0x15, with the above (EAX b11)
  bool vp_registers = true;        // HvCallGet/SetVpRegisters (EBX b17 AccessVpRegisters)
  bool xmm_input = true;           // XMM fast input (0x40000003 EDX b4)
  bool xmm_output = false;         // XMM fast output (EDX b15)
  bool debugging = false;          // HvCallPostDebugData/RetrieveDebugData/ResetDebugSession (EBX b11)
  uint32_t max_reps_per_dispatch = kDefaultMaxRepsPerDispatch;  // 0 is taken as 1
};

// What the CPU side must do once dispatch() returns (at most one flag is set):
//  - neither: the call is complete; RAX holds the result value. Advance RIP past VMCALL/VMMCALL.
//  - retry:   a rep call continues; RCX holds the new rep start index, RAX is unchanged. Leave RIP
//             on the instruction so the guest re-executes it (after taking pending interrupts).
//  - ud:      inject #UD (CPL > 0, not 64-bit mode, XMM fast input not offered); no register changed.
struct HypercallOutcome {
  bool retry = false;
  bool ud = false;
};

class HypercallDispatcher {
 public:
  HypercallDispatcher(HypercallTarget& target, const HypercallConfig& config, Tracer& tracer);

  // Check order (first failure wins):
  //  1. not 64-bit mode or CPL > 0            -> #UD (TLFS "Legal Hypercall Environments")
  //  2. RsvdZ control bits or is-nested set   -> INVALID_HYPERCALL_INPUT
  //  3. unknown call code                     -> INVALID_HYPERCALL_CODE
  //  4. call not enabled by HypercallConfig   -> ACCESS_DENIED
  //  5. rep start >= rep count (count != 0), rep count 0 for a rep call, rep count or start != 0
  //     for a simple call, variable header for a call without one -> INVALID_HYPERCALL_INPUT
  //  6. fast: input > 112 bytes, a call whose block runs to the page end, or output without XMM
  //     fast output (or no room for it) -> INVALID_HYPERCALL_INPUT; input > 16 bytes without XMM
  //     fast input -> #UD (TLFS "XMM Fast Hypercall Input")
  //  7. memory: a GPA not 8-byte aligned, a block crossing a 4 KiB page, input and output
  //     overlapping, a block outside guest memory or an output block the caller cannot write
  //     (io.memory() refuses it) -> INVALID_ALIGNMENT (TLFS status table)
  //  8. the handler's own checks (handlers.h)
  HypercallOutcome dispatch(VpIndex vp, VirtualTime now, HypercallIo& io);
  const HypercallConfig& config() const { return config_; }

  size_t debug_pending() const { return handlers_.debug_pending(); }
  void reset() { handlers_.reset(); }

 private:
  struct Control;
  struct Spec;
  struct Result;
  static const Spec* find_spec(uint16_t code);
  Result run(VpIndex vp, const Control& c, HypercallIo& io);
  bool enabled(const Spec& s) const;
  uint16_t load_fast(const HypercallIo& io, size_t in_len, size_t out_len, bool& ud);
  uint16_t load_memory(HypercallIo& io, size_t in_len, size_t out_len);
  bool store_output(const Control& c, HypercallIo& io, size_t in_len, size_t begin, size_t end);

  HypercallConfig config_;
  Tracer& tracer_;
  HypercallHandlers handlers_;
  std::array<uint8_t, HV_HYP_PAGE_SIZE> input_{};
  std::array<uint8_t, HV_HYP_PAGE_SIZE> output_{};
};

}  // namespace hvsim::hv
