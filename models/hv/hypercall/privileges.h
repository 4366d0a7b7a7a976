// Which hypercalls a partition may make, from its enlightenment configuration (PROTOCOL.md §1.8,
// "KVM enforcement map"): the HypercallConfig the machine hands to the dispatcher. Without
// hv-enforce-cpuid every implemented call is allowed (KVM's rule, as for the synthetic MSRs)
// except the debug calls, which need the Debugging privilege (3B b11) hvsim never grants. With it,
// each call needs the CPUID bit that advertises it. Pure function of its argument.
#pragma once

#include "models/hv/enlightenments.h"
#include "models/hv/hypercall/dispatcher.h"

namespace hvsim::hv {

HypercallConfig hypercall_privileges(const Enlightenments& e);

}  // namespace hvsim::hv
