// Hyper-V enlightenment configuration (--hv): which hypervisor interfaces a partition advertises.
//
// One field per QEMU `hv-*` CPU flag that hvsim implements, parsed from QEMU's spellings
// (PROTOCOL.md §1.8; QEMU docs/system/i386/hyperv.rst), with QEMU's documented dependency rules.
// The CPUID bits each field turns on are in cpuid_leaves.h. Not supported, and rejected with a
// message saying so: the nested-virtualization flags (hv-evmcs, hv-emsr-bitmap,
// hv-tlbflush-direct) and hv-syndbg. Errors are hvsim::UsageError (user input, never the guest).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "models/hv/hvdef_cpuid.h"

namespace hvsim::hv {

struct Enlightenments {
  bool relaxed = false;                          // hv-relaxed
  bool vapic = false;                            // hv-vapic
  uint32_t spinlocks = kHvSpinlockNeverNotify;   // hv-spinlocks=N (0x40000004 EBX)
  bool vpindex = false;                          // hv-vpindex
  bool runtime = false;                          // hv-runtime
  bool crash = false;                            // hv-crash
  bool time = false;                             // hv-time
  bool synic = false;                            // hv-synic
  bool stimer = false;                           // hv-stimer
  bool stimer_direct = false;                    // hv-stimer-direct
  bool tlbflush = false;                         // hv-tlbflush
  bool tlbflush_ext = false;                     // hv-tlbflush-ext
  bool ipi = false;                              // hv-ipi
  std::string vendor_id = kHvVendorMicrosoftHv;  // hv-vendor-id=STRING (1 to 12 characters)
  bool reset = false;                            // hv-reset
  bool frequencies = false;                      // hv-frequencies
  bool reenlightenment = false;                  // hv-reenlightenment
  // hv-no-nonarch-coresharing=on|off|auto. "auto" means on: QEMU turns it on when no two vCPUs
  // can share a physical core, and hvsim's vCPUs are one thread per core, run one at a time.
  bool no_nonarch_coresharing = false;
  bool xmm_input = false;                        // hv-xmm-input
  bool avic = false;                             // hv-avic (alias hv-apicv)
  bool enforce_cpuid = false;                    // hv-enforce-cpuid: unadvertised MSRs #GP
  // hv-version-id-*=N: override the host profile's 0x40000002 fields when set.
  std::optional<uint32_t> version_build;         // 32 bits
  std::optional<uint32_t> version_major;         // 16 bits
  std::optional<uint32_t> version_minor;         // 16 bits
  std::optional<uint32_t> version_spack;         // 32 bits
  std::optional<uint32_t> version_sbranch;       // 8 bits
  std::optional<uint32_t> version_snumber;       // 24 bits

  bool operator==(const Enlightenments&) const = default;
};

// Parses a comma-separated list of QEMU spellings: `hv-synic`, `hv-synic=on|off`,
// `hv-spinlocks=0x1fff` (decimal or 0x hex), `hv-vendor-id=Foo`, `hv-passthrough`. Underscores
// in names are accepted for dashes (`hv_relaxed`), empty items are skipped. hv-passthrough is
// applied first wherever it appears, and explicit items then override it (QEMU >= 6.1 accepts
// `hv-passthrough,hv-feature=off`). Throws UsageError for an unknown or unsupported flag or a
// bad value. Does not check dependencies: call validate().
Enlightenments parse_enlightenments(std::string_view comma_separated);

// Throws UsageError naming the first broken dependency ("--hv: hv-stimer requires hv-vpindex,
// hv-time", listing exactly the missing flags), or a field out of its range.
void validate(const Enlightenments& e);

// Canonical comma list in a fixed order (for traces); parse_enlightenments() reads it back.
// Fields at their defaults are omitted, so the empty configuration gives "".
std::string to_string(const Enlightenments& e);

// What hv-passthrough gives: every enlightenment hvsim implements, spinlock retry count 0xfff
// (KVM's supported-CPUID default, which QEMU copies under hv-passthrough). Not hv-enforce-cpuid,
// not a vendor or version override.
Enlightenments all_enlightenments();

// Whether any enlightenment is on (QEMU's condition for presenting Hyper-V at all: a feature flag
// or a spinlock count other than "never notify"; vendor, version and enforce-cpuid do not count).
bool any_enlightenment(const Enlightenments& e);

}  // namespace hvsim::hv
