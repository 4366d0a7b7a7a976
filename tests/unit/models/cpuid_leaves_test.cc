#include "models/hv/cpuid_leaves.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/hv/hvdef_cpuid.h"
#include "sim/core/status.h"

namespace hvsim::hv {
namespace {

Enlightenments parsed(std::string_view spec) { return parse_enlightenments(spec); }

CpuidLeaf leaf_of(const Enlightenments& e, uint32_t leaf, const HostProfile& host = default_host_profile(),
                  uint32_t vcpus = 4) {
  std::optional<CpuidLeaf> l = hv_cpuid_leaf(e, host, vcpus, leaf, 0);
  EXPECT_TRUE(l.has_value()) << std::hex << leaf;
  return l.value_or(CpuidLeaf{0xDEAD, 0xDEAD, 0xDEAD, 0xDEAD});
}

std::vector<uint32_t> versions(const HostProfile& p) { return {p.vmbus_versions.begin(), p.vmbus_versions.end()}; }

// ---- Host profiles ----

TEST(HostProfile, VersionIdentification) {
  struct Case {
    const char* name;
    uint32_t build;
    uint16_t major, minor;
  };
  for (const Case& c : std::vector<Case>{{"ws2012", 9200, 6, 2},
                                         {"ws2012r2", 9600, 6, 3},
                                         {"ws2016", 14393, 10, 0},
                                         {"ws2019", 17763, 10, 0},
                                         {"ws2022", 20348, 10, 0},
                                         {"ws2025", 26100, 10, 0}}) {
    const HostProfile& p = host_profile(c.name);
    EXPECT_EQ(p.name, c.name);
    EXPECT_EQ(p.version.build_number, c.build) << c.name;
    EXPECT_EQ(p.version.major_version, c.major) << c.name;
    EXPECT_EQ(p.version.minor_version, c.minor) << c.name;
    EXPECT_EQ(p.version.service_pack, 0u);
    EXPECT_EQ(p.version.service_branch, 0u);
    EXPECT_EQ(p.version.service_number, 0u);
  }
  EXPECT_EQ(host_profile("ws2019").release, "Windows Server 2019");
}

TEST(HostProfile, VmbusVersionsNewestFirstDownTo0_13) {
  EXPECT_EQ(versions(host_profile("ws2012")), (std::vector<uint32_t>{0x00020004, 0x00010001, 0x0000000D}));
  EXPECT_EQ(versions(host_profile("ws2012r2")), (std::vector<uint32_t>{0x00030000, 0x00020004, 0x00010001, 0x0000000D}));
  EXPECT_EQ(versions(host_profile("ws2016")),
            (std::vector<uint32_t>{0x00040000, 0x00030000, 0x00020004, 0x00010001, 0x0000000D}));
  EXPECT_EQ(versions(host_profile("ws2019")),
            (std::vector<uint32_t>{0x00050002, 0x00050001, 0x00050000, 0x00040001, 0x00040000, 0x00030000,
                                   0x00020004, 0x00010001, 0x0000000D}));
  EXPECT_EQ(versions(host_profile("ws2022")).front(), 0x00050003u);
  EXPECT_EQ(versions(host_profile("ws2022")).size(), 10u);
  EXPECT_EQ(versions(host_profile("ws2025")).front(), 0x00060000u);
  EXPECT_EQ(versions(host_profile("ws2025")).size(), 11u);
  for (const char* name : {"ws2012", "ws2012r2", "ws2016", "ws2019", "ws2022", "ws2025"}) {
    std::vector<uint32_t> v = versions(host_profile(name));
    for (size_t i = 1; i < v.size(); ++i) EXPECT_GT(v[i - 1], v[i]) << name;
    EXPECT_EQ(v.back(), 0x0000000Du) << name;
  }
}

TEST(HostProfile, GpadlCapAndTscFlags) {
  constexpr uint64_t kMiB = 1u << 20;
  EXPECT_EQ(host_profile("ws2012").gpadl_aggregate_cap_bytes, 384 * kMiB);
  EXPECT_EQ(host_profile("ws2012r2").gpadl_aggregate_cap_bytes, 384 * kMiB);
  EXPECT_EQ(host_profile("ws2016").gpadl_aggregate_cap_bytes, 384 * kMiB);
  EXPECT_EQ(host_profile("ws2019").gpadl_aggregate_cap_bytes, 1280 * kMiB);
  EXPECT_EQ(host_profile("ws2022").gpadl_aggregate_cap_bytes, 1280 * kMiB);
  EXPECT_EQ(host_profile("ws2025").gpadl_aggregate_cap_bytes, 1280 * kMiB);
  EXPECT_FALSE(host_profile("ws2019").tsc_invariant_control);
  EXPECT_TRUE(host_profile("ws2022").tsc_invariant_control);
  EXPECT_TRUE(host_profile("ws2025").tsc_invariant_control);
  EXPECT_FALSE(host_profile("ws2012r2").tsc_scaling);
  EXPECT_TRUE(host_profile("ws2016").tsc_scaling);
}

TEST(HostProfile, DefaultAndUnknownNames) {
  EXPECT_EQ(&default_host_profile(), &host_profile("ws2019"));
  try {
    host_profile("ws2008");
    FAIL() << "no error";
  } catch (const UsageError& err) {
    EXPECT_EQ(std::string(err.what()),
              "unknown host profile 'ws2008' (valid: ws2012, ws2012r2, ws2016, ws2019, ws2022, ws2025)");
  }
  EXPECT_THROW(host_profile("WS2019"), UsageError);
  EXPECT_THROW(host_profile(""), UsageError);
}

// ---- CPUID leaves ----

TEST(CpuidLeaves, EmptySetHasIdentificationAndNoFeatureBits) {
  Enlightenments e;
  EXPECT_EQ(leaf_of(e, 0x40000000), (CpuidLeaf{0x4000000A, 0x7263694D, 0x666F736F, 0x76482074}));
  EXPECT_EQ(leaf_of(e, 0x40000001), (CpuidLeaf{0x31237648, 0, 0, 0}));
  EXPECT_EQ(leaf_of(e, 0x40000002), (CpuidLeaf{17763, 0x000A0000, 0, 0}));
  EXPECT_EQ(leaf_of(e, 0x40000003), (CpuidLeaf{}));
  EXPECT_EQ(leaf_of(e, 0x40000004), (CpuidLeaf{0, 0xFFFFFFFF, 0, 0}));
  EXPECT_EQ(leaf_of(e, 0x40000005, default_host_profile(), 3), (CpuidLeaf{3, 0, 0, 0}));
  for (uint32_t leaf = 0x40000006; leaf <= 0x4000000A; ++leaf) EXPECT_EQ(leaf_of(e, leaf), CpuidLeaf{}) << leaf;
}

TEST(CpuidLeaves, OutsideTheRangeIsNotAnswered) {
  Enlightenments all = all_enlightenments();
  for (uint32_t leaf : {0u, 1u, 0x3FFFFFFFu, 0x4000000Bu, 0x4000000Cu, 0x40000080u, 0x40000100u, 0x4FFFFFFFu}) {
    EXPECT_FALSE(hv_cpuid_leaf(all, default_host_profile(), 4, leaf, 0).has_value()) << std::hex << leaf;
  }
}

TEST(CpuidLeaves, SubleafIsIgnored) {
  Enlightenments all = all_enlightenments();
  EXPECT_EQ(hv_cpuid_leaf(all, default_host_profile(), 2, 0x40000003, 7),
            hv_cpuid_leaf(all, default_host_profile(), 2, 0x40000003, 0));
}

TEST(CpuidLeaves, FullSet) {
  Enlightenments all = all_enlightenments();
  CpuidLeaf f = leaf_of(all, 0x40000003);
  EXPECT_EQ(f.eax, kHvAccessHypercallMsrs | kHvAccessVpRunTimeReg | kHvAccessPartitionReferenceCounter |
                       kHvAccessPartitionReferenceTsc | kHvAccessSynicRegs | kHvAccessSyntheticTimerRegs |
                       kHvAccessIntrCtrlRegs | kHvAccessVpIndex | kHvAccessResetReg | kHvAccessFrequencyRegs |
                       kHvAccessReenlightenmentControls);
  EXPECT_EQ(f.ebx, kHvPostMessages | kHvSignalEvents);
  EXPECT_EQ(f.ecx, 0u);
  EXPECT_EQ(f.edx, kHvXmmRegistersForFastHypercallAvailable | kHvFrequencyRegsAvailable |
                       kHvGuestCrashRegsAvailable | kHvExtendedGvaRangesForFlushVirtualAddressListAvailable |
                       kHvDirectSyntheticTimers);
  CpuidLeaf r = leaf_of(all, 0x40000004);
  // hv-avic is in the full set, so the APIC-MSR recommendation is suppressed (QEMU).
  EXPECT_EQ(r.eax, kHvUseRelaxedTiming | kHvUseHypercallForRemoteFlushAndLocalFlushEntire |
                       kHvUseExProcessorMasks | kHvUseSyntheticClusterIpi | kHvDeprecateAutoEoi |
                       kHvNoNonArchitecturalCoreSharing);
  EXPECT_EQ(r.ebx, 0xFFFu);
  EXPECT_EQ(r.ecx, 0u);
  EXPECT_EQ(r.edx, 0u);
  EXPECT_EQ(leaf_of(all, 0x40000006), CpuidLeaf{});
  EXPECT_EQ(leaf_of(all, 0x40000005, default_host_profile(), 64).eax, 64u);
}

TEST(CpuidLeaves, TscInvariantControlsFollowTheHostProfile) {
  Enlightenments time = parsed("hv-time");
  EXPECT_EQ(leaf_of(time, 0x40000003, host_profile("ws2019")).eax,
            kHvAccessHypercallMsrs | kHvAccessPartitionReferenceCounter | kHvAccessPartitionReferenceTsc);
  EXPECT_EQ(leaf_of(time, 0x40000003, host_profile("ws2022")).eax,
            kHvAccessHypercallMsrs | kHvAccessPartitionReferenceCounter | kHvAccessPartitionReferenceTsc |
                kHvAccessTscInvariantControls);
  EXPECT_EQ(leaf_of(parsed("hv-relaxed"), 0x40000003, host_profile("ws2025")).eax, kHvAccessHypercallMsrs);
}

TEST(CpuidLeaves, EachFlagAlone) {
  struct Case {
    const char* spec;
    CpuidLeaf features;  // 0x40000003 (EAX always has AccessHypercallMsrs added)
    uint32_t recommendations;
  };
  const std::vector<Case> cases = {
      {"hv-relaxed", {}, kHvUseRelaxedTiming},
      {"hv-vapic", {kHvAccessIntrCtrlRegs, 0, 0, 0}, kHvUseApicMsrs},
      {"hv-vapic,hv-avic", {kHvAccessIntrCtrlRegs, 0, 0, 0}, kHvDeprecateAutoEoi},
      {"hv-avic", {}, kHvDeprecateAutoEoi},
      {"hv-vpindex", {kHvAccessVpIndex, 0, 0, 0}, 0},
      {"hv-runtime", {kHvAccessVpRunTimeReg, 0, 0, 0}, 0},
      {"hv-crash", {0, 0, 0, kHvGuestCrashRegsAvailable}, 0},
      {"hv-time", {kHvAccessPartitionReferenceCounter | kHvAccessPartitionReferenceTsc, 0, 0, 0}, 0},
      {"hv-synic", {kHvAccessSynicRegs, kHvPostMessages | kHvSignalEvents, 0, 0}, 0},
      {"hv-stimer", {kHvAccessSyntheticTimerRegs, 0, 0, 0}, 0},
      {"hv-stimer-direct", {0, 0, 0, kHvDirectSyntheticTimers}, 0},
      {"hv-tlbflush", {}, kHvUseHypercallForRemoteFlushAndLocalFlushEntire | kHvUseExProcessorMasks},
      {"hv-tlbflush-ext", {0, 0, 0, kHvExtendedGvaRangesForFlushVirtualAddressListAvailable}, 0},
      {"hv-ipi", {}, kHvUseSyntheticClusterIpi | kHvUseExProcessorMasks},
      {"hv-reset", {kHvAccessResetReg, 0, 0, 0}, 0},
      {"hv-frequencies", {kHvAccessFrequencyRegs, 0, 0, kHvFrequencyRegsAvailable}, 0},
      {"hv-reenlightenment", {kHvAccessReenlightenmentControls, 0, 0, 0}, 0},
      {"hv-no-nonarch-coresharing=auto", {}, kHvNoNonArchitecturalCoreSharing},
      {"hv-xmm-input", {0, 0, 0, kHvXmmRegistersForFastHypercallAvailable}, 0},
      {"hv-spinlocks=0x1fff", {}, 0},
  };
  for (const Case& c : cases) {
    Enlightenments e = parsed(c.spec);
    CpuidLeaf want = c.features;
    want.eax |= kHvAccessHypercallMsrs;
    EXPECT_EQ(leaf_of(e, 0x40000003), want) << c.spec;
    EXPECT_EQ(leaf_of(e, 0x40000004).eax, c.recommendations) << c.spec;
    EXPECT_EQ(leaf_of(e, 0x40000006), CpuidLeaf{}) << c.spec;
  }
}

TEST(CpuidLeaves, NonEnlightenmentsAddNoFeatureBits) {
  Enlightenments e = parsed("hv-vendor-id=Foo,hv-version-id-build=1,hv-enforce-cpuid");
  EXPECT_EQ(leaf_of(e, 0x40000003), CpuidLeaf{});
  EXPECT_EQ(leaf_of(e, 0x40000004), (CpuidLeaf{0, 0xFFFFFFFF, 0, 0}));
}

TEST(CpuidLeaves, SpinlockRetryCountInEbx) {
  EXPECT_EQ(leaf_of(parsed("hv-spinlocks=0x1fff"), 0x40000004).ebx, 0x1FFFu);
  EXPECT_EQ(leaf_of(parsed("hv-spinlocks=0"), 0x40000004).ebx, 0u);
  EXPECT_EQ(leaf_of(parsed("hv-relaxed"), 0x40000004).ebx, 0xFFFFFFFFu);
}

TEST(CpuidLeaves, VendorIdOverride) {
  EXPECT_EQ(leaf_of(parsed("hv-vendor-id=Foo"), 0x40000000), (CpuidLeaf{0x4000000A, 0x006F6F46, 0, 0}));
  EXPECT_EQ(leaf_of(parsed("hv-vendor-id=Linux KVM Hv"), 0x40000000),
            (CpuidLeaf{0x4000000A, hv_cpuid_chars("Linu"), hv_cpuid_chars("x KV"), hv_cpuid_chars("M Hv")}));
  // The signature leaf does not change with the vendor string.
  EXPECT_EQ(leaf_of(parsed("hv-vendor-id=Foo"), 0x40000001).eax, kHvInterfaceSignatureHv1);
}

TEST(CpuidLeaves, VersionFromProfileOrOverride) {
  Enlightenments e;
  EXPECT_EQ(leaf_of(e, 0x40000002, host_profile("ws2012")), (CpuidLeaf{9200, 0x00060002, 0, 0}));
  EXPECT_EQ(leaf_of(e, 0x40000002, host_profile("ws2012r2")), (CpuidLeaf{9600, 0x00060003, 0, 0}));
  EXPECT_EQ(leaf_of(e, 0x40000002, host_profile("ws2025")), (CpuidLeaf{26100, 0x000A0000, 0, 0}));
  e = parsed(
      "hv-version-id-build=1234,hv-version-id-major=1,hv-version-id-minor=2,hv-version-id-spack=3,"
      "hv-version-id-sbranch=4,hv-version-id-snumber=5");
  EXPECT_EQ(leaf_of(e, 0x40000002, host_profile("ws2012")), (CpuidLeaf{1234, 0x00010002, 3, 0x04000005}));
  // A partial override keeps the profile's other fields.
  EXPECT_EQ(leaf_of(parsed("hv-version-id-minor=7"), 0x40000002, host_profile("ws2016")),
            (CpuidLeaf{14393, 0x000A0007, 0, 0}));
}

// ---- advertised_msr ----

struct MsrFamily {
  const char* spec;             // configuration that advertises the family
  std::vector<uint32_t> msrs;   // every MSR of the family
};

const std::vector<MsrFamily> kFamilies = {
    {"hv-relaxed", {0x40000000, 0x40000001}},  // any enlightenment: GUEST_OS_ID, HYPERCALL
    {"hv-vpindex", {0x40000002}},
    {"hv-reset", {0x40000003}},
    {"hv-runtime", {0x40000010}},
    {"hv-time", {0x40000020, 0x40000021}},
    {"hv-frequencies", {0x40000022, 0x40000023}},
    {"hv-vapic", {0x40000070, 0x40000071, 0x40000072, 0x40000073}},
    {"hv-synic", {0x40000080, 0x40000081, 0x40000082, 0x40000083, 0x40000084, 0x40000090, 0x40000095, 0x4000009F}},
    {"hv-stimer", {0x400000B0, 0x400000B1, 0x400000B6, 0x400000B7}},
    {"hv-crash", {0x40000100, 0x40000101, 0x40000104, 0x40000105}},
    {"hv-reenlightenment", {0x40000106, 0x40000107, 0x40000108}},
};

TEST(AdvertisedMsr, EachFamilyOnlyWithItsFlag) {
  const HostProfile& host = default_host_profile();
  for (const MsrFamily& fam : kFamilies) {
    for (uint32_t msr : fam.msrs) {
      EXPECT_FALSE(advertised_msr(Enlightenments{}, host, msr)) << std::hex << msr;
      EXPECT_TRUE(advertised_msr(parsed(fam.spec), host, msr)) << fam.spec << " " << std::hex << msr;
      EXPECT_TRUE(advertised_msr(all_enlightenments(), host, msr)) << std::hex << msr;
    }
    // The flag advertises nothing of the other families (beyond the hypercall MSRs).
    for (const MsrFamily& other : kFamilies) {
      if (&other == &fam || std::string(other.spec) == "hv-relaxed") continue;
      for (uint32_t msr : other.msrs) {
        EXPECT_FALSE(advertised_msr(parsed(fam.spec), host, msr)) << fam.spec << " " << std::hex << msr;
      }
    }
  }
}

TEST(AdvertisedMsr, TimeIncludesTheReferenceTscPageAndNotJustTheCounter) {
  Enlightenments time = parsed("hv-time");
  EXPECT_TRUE(advertised_msr(time, default_host_profile(), 0x40000021));
  EXPECT_FALSE(advertised_msr(time, default_host_profile(), 0x40000022));
}

TEST(AdvertisedMsr, TscInvariantControlNeedsTimeAndAHostThatOffersIt) {
  EXPECT_FALSE(advertised_msr(parsed("hv-time"), host_profile("ws2019"), 0x40000118));
  EXPECT_TRUE(advertised_msr(parsed("hv-time"), host_profile("ws2022"), 0x40000118));
  EXPECT_FALSE(advertised_msr(parsed("hv-relaxed"), host_profile("ws2022"), 0x40000118));
}

TEST(AdvertisedMsr, NeverAdvertised) {
  Enlightenments all = all_enlightenments();
  const HostProfile& host = host_profile("ws2025");
  // GUEST_IDLE, synthetic debugger, time-unhalted timer: no flag hvsim offers sets their bits.
  for (uint32_t msr : {0x400000F0u, 0x400000F1u, 0x400000F5u, 0x400000FFu, 0x40000114u, 0x40000115u}) {
    EXPECT_FALSE(advertised_msr(all, host, msr)) << std::hex << msr;
  }
  // Numbers no MSR has (SIRBP is root-only), and numbers outside the synthetic range.
  for (uint32_t msr : {0x40000004u, 0x40000011u, 0x40000024u, 0x40000074u, 0x40000085u, 0x4000008Fu, 0x400000A0u,
                       0x400000B8u, 0x40000109u, 0x400001FFu, 0x40000200u, 0x3FFFFFFFu, 0x00000010u}) {
    EXPECT_FALSE(advertised_msr(all, host, msr)) << std::hex << msr;
  }
}

}  // namespace
}  // namespace hvsim::hv
