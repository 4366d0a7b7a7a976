#include "models/hv/hypercall/privileges.h"

namespace hvsim::hv {

HypercallConfig hypercall_privileges(const Enlightenments& e) {
  bool all = !e.enforce_cpuid;
  HypercallConfig c;
  // 0x40000004 EBX is the spinlock retry count; 0 and "never notify" both withhold the call (§1.8).
  c.long_spin_wait = all || (e.spinlocks != 0 && e.spinlocks != kHvSpinlockNeverNotify);
  c.post_messages = c.signal_events = all || e.synic;  // 3B b4 / b5 come with hv-synic
  c.tlb_flush = all || e.tlbflush;                     // 4A b2
  c.extended_gva_ranges = e.tlbflush_ext;              // only when 3D b14 says so
  c.cluster_ipi = all || e.ipi;                        // 4A b10
  c.ex_processor_masks = all || e.tlbflush || e.ipi;   // 4A b11 comes with either
  c.xmm_input = all || e.xmm_input;                    // 3D b4
  return c;
}

}  // namespace hvsim::hv
