// hypercall_privileges: which hypercalls each enlightenment configuration allows (PROTOCOL.md
// §1.8 KVM enforcement map): everything but the debug calls without hv-enforce-cpuid, and with it
// only what the advertised CPUID bits name.
#include "models/hv/hypercall/privileges.h"

#include <gtest/gtest.h>

namespace hvsim::hv {
namespace {

Enlightenments enforced(std::string_view flags) {
  Enlightenments e = parse_enlightenments(flags);
  e.enforce_cpuid = true;
  return e;
}

TEST(HypercallPrivileges, WithoutEnforcementEveryImplementedCallButTheDebugCalls) {
  HypercallConfig c = hypercall_privileges(parse_enlightenments("hv-vpindex"));
  EXPECT_TRUE(c.long_spin_wait);
  EXPECT_TRUE(c.post_messages);
  EXPECT_TRUE(c.signal_events);
  EXPECT_TRUE(c.tlb_flush);
  EXPECT_TRUE(c.cluster_ipi);
  EXPECT_TRUE(c.ex_processor_masks);
  EXPECT_TRUE(c.xmm_input);
  EXPECT_TRUE(c.vp_registers);
  EXPECT_FALSE(c.debugging);
  EXPECT_FALSE(c.xmm_output);
  EXPECT_FALSE(c.extended_gva_ranges) << "the range format follows 3D b14 in every configuration";
}

TEST(HypercallPrivileges, EnforcedCallsFollowTheirFlags) {
  HypercallConfig none = hypercall_privileges(enforced("hv-vpindex"));
  EXPECT_FALSE(none.post_messages);
  EXPECT_FALSE(none.signal_events);
  EXPECT_FALSE(none.tlb_flush);
  EXPECT_FALSE(none.cluster_ipi);
  EXPECT_FALSE(none.ex_processor_masks);
  EXPECT_FALSE(none.xmm_input);
  EXPECT_FALSE(none.debugging);

  HypercallConfig synic = hypercall_privileges(enforced("hv-vpindex,hv-synic"));
  EXPECT_TRUE(synic.post_messages);
  EXPECT_TRUE(synic.signal_events);

  HypercallConfig flush = hypercall_privileges(enforced("hv-vpindex,hv-tlbflush"));
  EXPECT_TRUE(flush.tlb_flush);
  EXPECT_TRUE(flush.ex_processor_masks);
  EXPECT_FALSE(flush.cluster_ipi);
  EXPECT_FALSE(flush.extended_gva_ranges);
  EXPECT_TRUE(hypercall_privileges(enforced("hv-vpindex,hv-tlbflush,hv-tlbflush-ext")).extended_gva_ranges);

  HypercallConfig ipi = hypercall_privileges(enforced("hv-vpindex,hv-ipi"));
  EXPECT_TRUE(ipi.cluster_ipi);
  EXPECT_TRUE(ipi.ex_processor_masks);
  EXPECT_FALSE(ipi.tlb_flush);

  EXPECT_TRUE(hypercall_privileges(enforced("hv-xmm-input")).xmm_input);
}

// 0x40000004 EBX is the spinlock retry count: NotifyLongSpinWait needs one that is neither 0 nor
// 0xFFFFFFFF ("never notify").
TEST(HypercallPrivileges, NotifyLongSpinWaitNeedsARetryCountOtherThanZeroAndNeverNotify) {
  EXPECT_FALSE(hypercall_privileges(enforced("hv-vpindex")).long_spin_wait);
  EXPECT_FALSE(hypercall_privileges(enforced("hv-spinlocks=0xffffffff,hv-vpindex")).long_spin_wait);
  EXPECT_FALSE(hypercall_privileges(enforced("hv-spinlocks=0")).long_spin_wait);
  EXPECT_TRUE(hypercall_privileges(enforced("hv-spinlocks=1")).long_spin_wait);
  EXPECT_TRUE(hypercall_privileges(enforced("hv-spinlocks=0xfff")).long_spin_wait);
  EXPECT_TRUE(hypercall_privileges(parse_enlightenments("hv-spinlocks=0")).long_spin_wait) << "not enforced";
}

}  // namespace
}  // namespace hvsim::hv
