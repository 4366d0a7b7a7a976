#include "models/hv/enlightenments.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/core/status.h"

namespace hvsim::hv {
namespace {

std::string parse_error(std::string_view spec) {
  try {
    parse_enlightenments(spec);
  } catch (const UsageError& err) {
    return err.what();
  }
  return "(no error)";
}

std::string validate_error(const Enlightenments& e) {
  try {
    validate(e);
  } catch (const UsageError& err) {
    return err.what();
  }
  return "(no error)";
}

Enlightenments parsed(std::string_view spec) { return parse_enlightenments(spec); }

struct BoolCase {
  const char* name;
  bool Enlightenments::*field;
};
const std::vector<BoolCase> kBoolCases = {
    {"hv-relaxed", &Enlightenments::relaxed},
    {"hv-vapic", &Enlightenments::vapic},
    {"hv-vpindex", &Enlightenments::vpindex},
    {"hv-runtime", &Enlightenments::runtime},
    {"hv-crash", &Enlightenments::crash},
    {"hv-time", &Enlightenments::time},
    {"hv-synic", &Enlightenments::synic},
    {"hv-stimer", &Enlightenments::stimer},
    {"hv-stimer-direct", &Enlightenments::stimer_direct},
    {"hv-tlbflush", &Enlightenments::tlbflush},
    {"hv-tlbflush-ext", &Enlightenments::tlbflush_ext},
    {"hv-ipi", &Enlightenments::ipi},
    {"hv-reset", &Enlightenments::reset},
    {"hv-frequencies", &Enlightenments::frequencies},
    {"hv-reenlightenment", &Enlightenments::reenlightenment},
    {"hv-no-nonarch-coresharing", &Enlightenments::no_nonarch_coresharing},
    {"hv-xmm-input", &Enlightenments::xmm_input},
    {"hv-avic", &Enlightenments::avic},
    {"hv-enforce-cpuid", &Enlightenments::enforce_cpuid},
};

TEST(Enlightenments, EmptyListIsTheDefault) {
  EXPECT_EQ(parsed(""), Enlightenments{});
  EXPECT_EQ(parsed(",,"), Enlightenments{});
  Enlightenments e;
  EXPECT_EQ(e.spinlocks, 0xFFFFFFFFu);
  EXPECT_EQ(e.vendor_id, "Microsoft Hv");
  EXPECT_EQ(to_string(e), "");
}

TEST(Enlightenments, EachFlagSetsExactlyItsField) {
  for (const BoolCase& c : kBoolCases) {
    Enlightenments want;
    want.*c.field = true;
    EXPECT_EQ(parsed(c.name), want) << c.name;
    EXPECT_EQ(parsed(std::string(c.name) + "=on"), want) << c.name;
    EXPECT_EQ(parsed(std::string(c.name) + "=on," + c.name + "=off"), Enlightenments{}) << c.name;
    EXPECT_EQ(to_string(want), c.name);
  }
}

TEST(Enlightenments, SwitchValues) {
  for (const char* on : {"on", "yes", "true"}) EXPECT_TRUE(parsed(std::string("hv-relaxed=") + on).relaxed);
  for (const char* off : {"off", "no", "false"}) EXPECT_FALSE(parsed(std::string("hv-time=") + off).time);
  EXPECT_TRUE(parsed("hv-no-nonarch-coresharing=auto").no_nonarch_coresharing);
  EXPECT_FALSE(parsed("hv-no-nonarch-coresharing=off").no_nonarch_coresharing);
  EXPECT_EQ(parse_error("hv-relaxed=maybe"), "--hv: hv-relaxed: expected on or off, got 'maybe'");
  EXPECT_EQ(parse_error("hv-relaxed=auto"), "--hv: hv-relaxed: expected on or off, got 'auto'");
  EXPECT_EQ(parse_error("hv-relaxed="), "--hv: hv-relaxed: expected on or off, got ''");
  EXPECT_EQ(parse_error("hv-no-nonarch-coresharing=x"),
            "--hv: hv-no-nonarch-coresharing: expected on, off or auto, got 'x'");
}

TEST(Enlightenments, UnderscoreSpellingsAndApicvAlias) {
  Enlightenments want;
  want.relaxed = want.vpindex = want.avic = want.no_nonarch_coresharing = true;
  EXPECT_EQ(parsed("hv_relaxed,hv_vpindex,hv-apicv,hv_no_nonarch_coresharing=on"), want);
}

TEST(Enlightenments, Spinlocks) {
  EXPECT_EQ(parsed("hv-spinlocks=0x1fff").spinlocks, 0x1FFFu);
  EXPECT_EQ(parsed("hv-spinlocks=0X1FFF").spinlocks, 0x1FFFu);
  EXPECT_EQ(parsed("hv-spinlocks=4095").spinlocks, 4095u);
  EXPECT_EQ(parsed("hv-spinlocks=0").spinlocks, 0u);
  EXPECT_EQ(parsed("hv-spinlocks=0xffffffff").spinlocks, 0xFFFFFFFFu);
  EXPECT_EQ(to_string(parsed("hv-spinlocks=8191")), "hv-spinlocks=0x1fff");
  EXPECT_EQ(parse_error("hv-spinlocks=x"), "--hv: hv-spinlocks: expected a number, got 'x'");
  EXPECT_EQ(parse_error("hv-spinlocks"), "--hv: hv-spinlocks: expected a number, got ''");
  EXPECT_EQ(parse_error("hv-spinlocks=-1"), "--hv: hv-spinlocks: expected a number, got '-1'");
  EXPECT_EQ(parse_error("hv-spinlocks=+1"), "--hv: hv-spinlocks: expected a number, got '+1'");
  EXPECT_EQ(parse_error("hv-spinlocks=0x"), "--hv: hv-spinlocks: expected a number, got '0x'");
  EXPECT_EQ(parse_error("hv-spinlocks=12ab"), "--hv: hv-spinlocks: expected a number, got '12ab'");
  EXPECT_EQ(parse_error("hv-spinlocks=0x100000000"),
            "--hv: hv-spinlocks: '0x100000000' is out of range (at most 0xffffffff)");
  EXPECT_EQ(parse_error("hv-spinlocks=99999999999999999999999"),
            "--hv: hv-spinlocks: '99999999999999999999999' is out of range (at most 0xffffffff)");
}

TEST(Enlightenments, VendorId) {
  EXPECT_EQ(parsed("hv-vendor-id=Foo").vendor_id, "Foo");
  EXPECT_EQ(parsed("hv-vendor-id=ABCDEFGHIJKL").vendor_id, "ABCDEFGHIJKL");
  EXPECT_EQ(parsed("hv-vendor-id=Linux KVM Hv").vendor_id, "Linux KVM Hv");
  EXPECT_EQ(to_string(parsed("hv-vendor-id=Foo")), "hv-vendor-id=Foo");
  EXPECT_EQ(to_string(parsed("hv-vendor-id=Microsoft Hv")), "");
  const std::string msg = "--hv: hv-vendor-id: expected 1 to 12 printable characters, got ";
  EXPECT_EQ(parse_error("hv-vendor-id=ABCDEFGHIJKLM"), msg + "'ABCDEFGHIJKLM'");
  EXPECT_EQ(parse_error("hv-vendor-id="), msg + "''");
  EXPECT_EQ(parse_error("hv-vendor-id"), msg + "''");
  EXPECT_EQ(parse_error("hv-vendor-id=a\tb"), msg + "'a\tb'");
}

TEST(Enlightenments, VersionIds) {
  Enlightenments e = parsed(
      "hv-version-id-build=0x3839,hv-version-id-major=10,hv-version-id-minor=0,"
      "hv-version-id-spack=4294967295,hv-version-id-sbranch=255,hv-version-id-snumber=0xffffff");
  EXPECT_EQ(e.version_build, 14393u);
  EXPECT_EQ(e.version_major, 10u);
  EXPECT_EQ(e.version_minor, 0u);
  EXPECT_EQ(e.version_spack, 0xFFFFFFFFu);
  EXPECT_EQ(e.version_sbranch, 255u);
  EXPECT_EQ(e.version_snumber, 0xFFFFFFu);
  EXPECT_FALSE(any_enlightenment(e));
  EXPECT_EQ(parse_error("hv-version-id-major=0x10000"),
            "--hv: hv-version-id-major: '0x10000' is out of range (at most 0xffff)");
  EXPECT_EQ(parse_error("hv-version-id-minor=65536"),
            "--hv: hv-version-id-minor: '65536' is out of range (at most 0xffff)");
  EXPECT_EQ(parse_error("hv-version-id-sbranch=256"),
            "--hv: hv-version-id-sbranch: '256' is out of range (at most 0xff)");
  EXPECT_EQ(parse_error("hv-version-id-snumber=0x1000000"),
            "--hv: hv-version-id-snumber: '0x1000000' is out of range (at most 0xffffff)");
  EXPECT_EQ(parse_error("hv-version-id-build=ws"), "--hv: hv-version-id-build: expected a number, got 'ws'");
  EXPECT_EQ(parse_error("hv-version-id-spack"), "--hv: hv-version-id-spack: expected a number, got ''");
}

TEST(Enlightenments, UnknownAndUnsupportedFlags) {
  EXPECT_EQ(parse_error("hv-foo"), "--hv: unknown enlightenment 'hv-foo'");
  EXPECT_EQ(parse_error("hv-relaxed,hv-foo=1"), "--hv: unknown enlightenment 'hv-foo'");
  EXPECT_EQ(parse_error("relaxed"), "--hv: unknown enlightenment 'relaxed'");
  EXPECT_EQ(parse_error("hv-relaxed "), "--hv: unknown enlightenment 'hv-relaxed '");
  EXPECT_EQ(parse_error("hv-evmcs"), "--hv: 'hv-evmcs' is not supported (nested virtualization is not modelled)");
  EXPECT_EQ(parse_error("hv-emsr-bitmap"),
            "--hv: 'hv-emsr-bitmap' is not supported (nested virtualization is not modelled)");
  EXPECT_EQ(parse_error("hv_tlbflush_direct"),
            "--hv: 'hv_tlbflush_direct' is not supported (nested virtualization is not modelled)");
  EXPECT_EQ(parse_error("hv-syndbg"),
            "--hv: 'hv-syndbg' is not supported (the synthetic debugger is not modelled)");
}

TEST(Enlightenments, AllEnlightenments) {
  Enlightenments all = all_enlightenments();
  for (const BoolCase& c : kBoolCases) {
    EXPECT_EQ(all.*c.field, c.field != &Enlightenments::enforce_cpuid) << c.name;
  }
  EXPECT_EQ(all.spinlocks, 0xFFFu);
  EXPECT_EQ(all.vendor_id, "Microsoft Hv");
  EXPECT_FALSE(all.version_build.has_value());
  EXPECT_EQ(validate_error(all), "(no error)");
  EXPECT_EQ(to_string(all),
            "hv-relaxed,hv-vapic,hv-vpindex,hv-runtime,hv-crash,hv-time,hv-synic,hv-stimer,"
            "hv-stimer-direct,hv-tlbflush,hv-tlbflush-ext,hv-ipi,hv-reset,hv-frequencies,"
            "hv-reenlightenment,hv-avic,hv-no-nonarch-coresharing,hv-xmm-input,hv-spinlocks=0xfff");
}

TEST(Enlightenments, PassthroughIsOverriddenByExplicitItemsWhereverItAppears) {
  EXPECT_EQ(parsed("hv-passthrough"), all_enlightenments());
  EXPECT_EQ(parsed("hv-passthrough=on"), all_enlightenments());
  EXPECT_EQ(parsed("hv-passthrough=off"), Enlightenments{});
  Enlightenments no_reset = all_enlightenments();
  no_reset.reset = false;
  EXPECT_EQ(parsed("hv-passthrough,hv-reset=off"), no_reset);
  EXPECT_EQ(parsed("hv-reset=off,hv-passthrough"), no_reset);
  EXPECT_EQ(parsed("hv-spinlocks=0x1fff,hv-passthrough").spinlocks, 0x1FFFu);
  EXPECT_EQ(parsed("hv-vendor-id=Foo,hv-passthrough").vendor_id, "Foo");
  EXPECT_TRUE(parsed("hv-passthrough,hv-enforce-cpuid").enforce_cpuid);
  EXPECT_EQ(parse_error("hv-passthrough=sometimes"), "--hv: hv-passthrough: expected on or off, got 'sometimes'");
}

TEST(Enlightenments, ToStringRoundTrips) {
  std::vector<Enlightenments> configs = {Enlightenments{}, all_enlightenments(),
                                         parsed("hv-vpindex,hv-synic,hv-spinlocks=0x1fff,hv-vendor-id=Foo Bar"),
                                         parsed("hv-time,hv-version-id-build=9200,hv-version-id-sbranch=3")};
  for (const Enlightenments& e : configs) EXPECT_EQ(parsed(to_string(e)), e) << to_string(e);
  EXPECT_EQ(to_string(configs[3]), "hv-time,hv-version-id-build=9200,hv-version-id-sbranch=3");
  EXPECT_EQ(to_string(parsed("hv-synic,hv-vpindex,hv-enforce-cpuid")), "hv-vpindex,hv-synic,hv-enforce-cpuid");
}

TEST(Enlightenments, AnyEnlightenment) {
  EXPECT_FALSE(any_enlightenment(Enlightenments{}));
  EXPECT_FALSE(any_enlightenment(parsed("hv-vendor-id=Foo,hv-version-id-build=1,hv-enforce-cpuid")));
  EXPECT_TRUE(any_enlightenment(parsed("hv-spinlocks=0x1fff")));
  EXPECT_FALSE(any_enlightenment(parsed("hv-spinlocks=0xffffffff")));
  for (const BoolCase& c : kBoolCases) {
    Enlightenments e;
    e.*c.field = true;
    EXPECT_EQ(any_enlightenment(e), c.field != &Enlightenments::enforce_cpuid) << c.name;
  }
}

TEST(EnlightenmentsValidate, DependencyRulesListExactlyTheMissingFlags) {
  struct Case {
    const char* spec;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"hv-synic", "--hv: hv-synic requires hv-vpindex"},
      {"hv-vpindex,hv-synic", "(no error)"},
      {"hv-stimer", "--hv: hv-stimer requires hv-vpindex, hv-synic, hv-time"},
      {"hv-stimer,hv-time", "--hv: hv-stimer requires hv-vpindex, hv-synic"},
      {"hv-stimer,hv-vpindex,hv-synic", "--hv: hv-stimer requires hv-time"},
      {"hv-stimer,hv-vpindex,hv-synic,hv-time", "(no error)"},
      {"hv-stimer-direct", "--hv: hv-stimer-direct requires hv-vpindex, hv-synic, hv-time, hv-stimer"},
      {"hv-stimer-direct,hv-vpindex,hv-synic,hv-time", "--hv: hv-stimer-direct requires hv-stimer"},
      {"hv-stimer-direct,hv-stimer,hv-vpindex,hv-synic,hv-time", "(no error)"},
      {"hv-tlbflush", "--hv: hv-tlbflush requires hv-vpindex"},
      {"hv-tlbflush,hv-vpindex", "(no error)"},
      {"hv-tlbflush-ext", "--hv: hv-tlbflush-ext requires hv-tlbflush"},
      {"hv-tlbflush-ext,hv-tlbflush", "--hv: hv-tlbflush requires hv-vpindex"},
      {"hv-tlbflush-ext,hv-tlbflush,hv-vpindex", "(no error)"},
      {"hv-ipi", "--hv: hv-ipi requires hv-vpindex"},
      {"hv-ipi,hv-vpindex", "(no error)"},
      // Not rules (QEMU: "Recommended" only, or no dependency at all).
      {"hv-reenlightenment", "(no error)"},
      {"hv-avic,hv-vapic,hv-relaxed,hv-runtime,hv-crash,hv-reset,hv-frequencies,hv-xmm-input", "(no error)"},
      {"hv-no-nonarch-coresharing,hv-spinlocks=0x1fff,hv-enforce-cpuid", "(no error)"},
  };
  for (const Case& c : cases) EXPECT_EQ(validate_error(parsed(c.spec)), c.error) << c.spec;
}

TEST(EnlightenmentsValidate, FieldsSetInCodeAreRangeChecked) {
  Enlightenments e;
  e.vendor_id = "";
  EXPECT_EQ(validate_error(e), "--hv: hv-vendor-id: expected 1 to 12 printable characters, got ''");
  e.vendor_id = "0123456789abc";
  EXPECT_EQ(validate_error(e), "--hv: hv-vendor-id: expected 1 to 12 printable characters, got '0123456789abc'");
  e = Enlightenments{};
  e.version_sbranch = 300;
  EXPECT_EQ(validate_error(e), "--hv: hv-version-id-sbranch: 0x12c is out of range (at most 0xff)");
  e.version_sbranch = 0xFF;
  e.version_snumber = 0x1000000;
  EXPECT_EQ(validate_error(e), "--hv: hv-version-id-snumber: 0x1000000 is out of range (at most 0xffffff)");
}

}  // namespace
}  // namespace hvsim::hv
