// "Behaviour with each enlightenment off": the conformance guest hv_features
// (guest/tests/hv/hv_features.c) under a table of --hv configurations: hv-passthrough, no
// enlightenment, each enlightenment on its own with the flags it requires (the Machine refuses a
// configuration that breaks a dependency rule), all with hv-enforce-cpuid, and a few without.
// The guest takes its expectations from CPUID, checks every synthetic MSR family and gated
// hypercall against them and exits 0 only if all held; it prints the CPUID words it saw. This test
// checks that those words carry exactly the bits the configuration should set, from the small
// table below (PROTOCOL.md §1.8, with hvsim's deliberate choices from docs/conformance.md
// section 1), independent of the model's own CPUID code, and that the guest found the MSRs gated
// exactly when hv-enforce-cpuid was given (or Hyper-V is absent).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "sim/machine/machine.h"
#include "tests/support/guests.h"

namespace hvsim {
namespace {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// The CPUID words hv_features prints: 0x40000003 EAX/EBX/ECX/EDX, 0x40000004 EAX/EBX.
struct Words {
  int hv = 0;
  uint32_t a3 = 0, b3 = 0, c3 = 0, d3 = 0, a4 = 0, b4 = 0;
  int gated = 0;
  bool operator==(const Words&) const = default;
};

std::string to_string(const Words& w) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "hv=%d 3a=0x%x 3b=0x%x 3c=0x%x 3d=0x%x 4a=0x%x 4b=0x%x gated=%d", w.hv, w.a3, w.b3,
                w.c3, w.d3, w.a4, w.b4, w.gated);
  return buf;
}

// PROTOCOL.md §1.8: the bits each flag sets (3A = 0x40000003 EAX, 3B = EBX, 3D = EDX,
// 4A = 0x40000004 EAX). hvsim's choices: 3B b4/b5 come with hv-synic (VMBus is always behind it),
// 3D b3 is never set (no CPU hot-add), 3A b15 comes with hv-time on a host that offers
// TSC_INVARIANT_CONTROL (ws2022, ws2025).
struct FlagBits {
  std::string_view flag;
  uint32_t a3, b3, d3, a4;
};
constexpr FlagBits kFlagBits[] = {
    {"hv-relaxed", 0, 0, 0, bit(5)},
    {"hv-vapic", bit(4), 0, 0, bit(3)},  // 4A b3 only without hv-avic
    {"hv-vpindex", bit(6), 0, 0, 0},
    {"hv-runtime", bit(0), 0, 0, 0},
    {"hv-crash", 0, 0, bit(10), 0},
    {"hv-time", bit(1) | bit(9), 0, 0, 0},
    {"hv-synic", bit(2), bit(4) | bit(5), 0, 0},
    {"hv-stimer", bit(3), 0, 0, 0},
    {"hv-stimer-direct", 0, 0, bit(19), 0},
    {"hv-tlbflush", 0, 0, 0, bit(2) | bit(11)},
    {"hv-tlbflush-ext", 0, 0, bit(14), 0},
    {"hv-ipi", 0, 0, 0, bit(10) | bit(11)},
    {"hv-reset", bit(7), 0, 0, 0},
    {"hv-frequencies", bit(11), 0, bit(8), 0},
    {"hv-reenlightenment", bit(13), 0, 0, 0},
    {"hv-avic", 0, 0, 0, bit(9)},
    {"hv-no-nonarch-coresharing", 0, 0, 0, bit(18)},
    {"hv-xmm-input", 0, 0, bit(4), 0},
};
constexpr uint32_t kAccessHypercallMsrs = bit(5);   // 3A b5: whenever Hyper-V is presented
constexpr uint32_t kUseApicMsrs = bit(3);           // 4A b3, suppressed by hv-avic
constexpr uint32_t kAccessTscInvariant = bit(15);   // 3A b15
constexpr uint32_t kNeverNotify = 0xFFFFFFFF;       // 4B default
constexpr uint32_t kPassthroughSpinlocks = 0xFFF;   // KVM's supported value, taken by hv-passthrough

struct Config {
  const char* name;  // gtest parameter name
  const char* hv;    // --hv
  const char* host = "ws2019";
};

void PrintTo(const Config& c, std::ostream* os) { *os << "--hv " << c.hv << " --host " << c.host; }

// Expected words for a configuration, from kFlagBits alone.
Words expected(const Config& c) {
  std::vector<std::string_view> flags;
  uint32_t spinlocks = kNeverNotify;
  bool enforce = false;
  std::string_view list = c.hv;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? "" : list.substr(comma + 1);
    if (item == "none") continue;
    if (item == "hv-enforce-cpuid") {
      enforce = true;
    } else if (item == "hv-passthrough") {
      for (const FlagBits& f : kFlagBits) flags.push_back(f.flag);
      spinlocks = kPassthroughSpinlocks;
    } else if (item.starts_with("hv-spinlocks=")) {
      spinlocks = static_cast<uint32_t>(std::stoul(std::string(item.substr(13)), nullptr, 0));
    } else {
      flags.push_back(item);
    }
  }
  Words w;
  if (flags.empty() && spinlocks == kNeverNotify) {
    w.gated = 1;  // no Hyper-V interface: no leaves, every synthetic MSR #GPs
    return w;
  }
  auto has = [&flags](std::string_view f) { return std::find(flags.begin(), flags.end(), f) != flags.end(); };
  w.hv = 1;
  w.a3 = kAccessHypercallMsrs;
  for (std::string_view f : flags) {
    const FlagBits* row = nullptr;
    for (const FlagBits& r : kFlagBits) row = r.flag == f ? &r : row;
    if (row == nullptr) {
      ADD_FAILURE() << "no kFlagBits row for " << f;
      continue;
    }
    w.a3 |= row->a3;
    w.b3 |= row->b3;
    w.d3 |= row->d3;
    w.a4 |= row->a4;
  }
  if (has("hv-avic")) w.a4 &= ~kUseApicMsrs;
  std::string_view host = c.host;
  if (has("hv-time") && (host == "ws2022" || host == "ws2025")) w.a3 |= kAccessTscInvariant;
  w.b4 = spinlocks;
  w.gated = enforce ? 1 : 0;
  return w;
}

// Reads "# cpuid hv=.. 3a=.. ... gated=.." from the guest's output.
bool printed_words(const std::string& out, Words& w) {
  size_t at = out.find("# cpuid ");
  if (at == std::string::npos) return false;
  return std::sscanf(out.c_str() + at, "# cpuid hv=%d 3a=0x%x 3b=0x%x 3c=0x%x 3d=0x%x 4a=0x%x 4b=0x%x gated=%d", &w.hv,
                     &w.a3, &w.b3, &w.c3, &w.d3, &w.a4, &w.b4, &w.gated) == 8;
}

size_t lines_starting_with(const std::string& out, std::string_view prefix) {
  size_t n = 0;
  for (size_t at = 0; at < out.size();) {
    size_t end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    n += std::string_view(out).substr(at, end - at).starts_with(prefix);
    at = end + 1;
  }
  return n;
}

class HvFeatures : public ::testing::TestWithParam<Config> {};

TEST_P(HvFeatures, GuestChecksHoldAndCpuidCarriesExactlyTheFlagsBits) {
  const Config& c = GetParam();
  MachineParams p;
  p.guest = test::guest("hv_features");
  p.hv = c.hv;
  p.host = c.host;
  p.echo_console = false;
  p.max_time = VirtualTime::from_ms(100);
  Machine m(p);
  Verdict v = m.run();
  const std::string& out = m.console_output();
  ASSERT_EQ(v.kind, Verdict::Kind::kExit) << v.message << "\n" << out;
  EXPECT_EQ(v.exit_code, 0u) << out;
  EXPECT_EQ(lines_starting_with(out, "FAIL"), 0u) << out;
  // Every MSR in the guest's table is checked in every configuration (32 of them, the synthetic
  // debugger's only when it must exist or must not), plus the hypercall checks.
  EXPECT_GE(lines_starting_with(out, "ok "), 33u) << out;

  Words got;
  ASSERT_TRUE(printed_words(out, got)) << out;
  Words want = expected(c);
  EXPECT_EQ(to_string(got), to_string(want)) << "--hv " << c.hv << " --host " << c.host;
}

const Config kConfigs[] = {
    // hv-enforce-cpuid: everything, nothing, then each enlightenment with what it requires.
    {"passthrough", "hv-passthrough,hv-enforce-cpuid"},
    {"passthrough_ws2022", "hv-passthrough,hv-enforce-cpuid", "ws2022"},
    {"enforce_alone_is_no_hyperv", "hv-enforce-cpuid"},
    {"relaxed", "hv-relaxed,hv-enforce-cpuid"},
    {"vapic", "hv-vapic,hv-enforce-cpuid"},
    {"spinlocks", "hv-spinlocks=0x1fff,hv-enforce-cpuid"},
    {"spinlocks_zero", "hv-spinlocks=0,hv-enforce-cpuid"},
    {"vpindex", "hv-vpindex,hv-enforce-cpuid"},
    {"runtime", "hv-runtime,hv-enforce-cpuid"},
    {"crash", "hv-crash,hv-enforce-cpuid"},
    {"time", "hv-time,hv-enforce-cpuid"},
    {"time_ws2022", "hv-time,hv-enforce-cpuid", "ws2022"},
    {"synic", "hv-vpindex,hv-synic,hv-enforce-cpuid"},
    {"stimer", "hv-vpindex,hv-synic,hv-time,hv-stimer,hv-enforce-cpuid"},
    {"stimer_direct", "hv-vpindex,hv-synic,hv-time,hv-stimer,hv-stimer-direct,hv-enforce-cpuid"},
    {"tlbflush", "hv-vpindex,hv-tlbflush,hv-enforce-cpuid"},
    {"tlbflush_ext", "hv-vpindex,hv-tlbflush,hv-tlbflush-ext,hv-enforce-cpuid"},
    {"ipi", "hv-vpindex,hv-ipi,hv-enforce-cpuid"},
    {"reset", "hv-reset,hv-enforce-cpuid"},
    {"frequencies", "hv-frequencies,hv-enforce-cpuid"},
    {"reenlightenment", "hv-reenlightenment,hv-enforce-cpuid"},
    {"avic", "hv-avic,hv-enforce-cpuid"},
    {"vapic_avic", "hv-vapic,hv-avic,hv-enforce-cpuid"},
    {"no_nonarch_coresharing", "hv-no-nonarch-coresharing,hv-enforce-cpuid"},
    {"xmm_input", "hv-xmm-input,hv-enforce-cpuid"},
    // Without hv-enforce-cpuid every implemented MSR and call works whatever CPUID says.
    {"passthrough_not_enforced", "hv-passthrough"},
    {"relaxed_not_enforced", "hv-relaxed"},
    {"synic_not_enforced", "hv-vpindex,hv-synic"},
    {"time_not_enforced_ws2022", "hv-time", "ws2022"},
    {"none", "none"},
};

INSTANTIATE_TEST_SUITE_P(Configurations, HvFeatures, ::testing::ValuesIn(kConfigs),
                         [](const ::testing::TestParamInfo<Config>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace hvsim
