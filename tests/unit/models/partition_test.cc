// HvPartition over a recording HvPlatform: where the overlay pages are shown after MSR writes.
// SIMP/SIEFP at a GPA outside RAM are accepted without #GP and show the page nowhere (also not at
// the GPA they left); HYPERCALL outside RAM is #GP and keeps the page where it was.
#include "models/hv/partition.h"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <optional>
#include <utility>

#include "tests/support/flat_memory.h"

namespace hvsim::hv {
namespace {

constexpr uint64_t kRamBytes = 0x100000;
constexpr uint64_t kPageA = 0x10000;
constexpr uint64_t kPageB = 0x20000;
constexpr uint64_t kOutsideRam = 1ull << 45;

// Shows overlays the way the machine does: a GPA outside RAM is refused and changes nothing.
class RecordingPlatform final : public HvPlatform {
 public:
  bool place_overlay(OverlayKind kind, VpIndex vp, std::optional<uint64_t> gpa) override {
    if (gpa && *gpa + 0x1000 > kRamBytes) return false;
    shown[{kind, vp}] = gpa;
    return true;
  }
  uint8_t* overlay_page(OverlayKind kind, VpIndex vp) override { return pages[{kind, vp}].data(); }
  PhysicalMemory& vp_memory(VpIndex) override { return mem; }
  void reset_partition() override {}
  void crash_notify(const CrashReport& r) override { crash = r; }
  void guest_idle(VpIndex) override {}
  VirtualTime vp_run_time(VpIndex) override { return VirtualTime{}; }
  uint64_t guest_tsc(VpIndex, VirtualTime) override { return 0; }

  std::optional<uint64_t> where(OverlayKind kind, VpIndex vp) const {
    auto it = shown.find({kind, vp});
    return it == shown.end() ? std::nullopt : it->second;
  }

  std::map<std::pair<OverlayKind, VpIndex>, std::optional<uint64_t>> shown;
  std::map<std::pair<OverlayKind, VpIndex>, std::array<uint8_t, 4096>> pages;
  test::FlatMemory mem{kRamBytes};  // what vp_memory() shows every VP
  std::optional<CrashReport> crash;
};

class NullSink final : public InterruptSink {
 public:
  void request_interrupt(VpIndex, uint8_t) override {}
};

class PartitionOverlayTest : public ::testing::Test {
 protected:
  PartitionOverlayTest() : partition(params(), platform, sink, tracer) {}

  static PartitionParams params() {
    PartitionParams p;
    p.hv.vpindex = p.hv.synic = p.hv.time = true;
    p.host = default_host_profile();
    return p;
  }
  bool write(uint32_t msr, uint64_t value) { return partition.msr_write(0, msr, value, VirtualTime{}).value_or(false); }
  uint64_t read(uint32_t msr) { return partition.msr_read(0, msr, VirtualTime{}).value_or(MsrValue{true, ~0ull}).value; }

  RecordingPlatform platform;
  NullSink sink;
  Tracer tracer;
  HvPartition partition;
};

TEST_F(PartitionOverlayTest, SynicPageMovedOutsideRamIsShownNowhere) {
  for (auto [msr, kind] : {std::pair{HV_X64_MSR_SIMP, OverlayKind::kSimp}, std::pair{HV_X64_MSR_SIEFP, OverlayKind::kSiefp}}) {
    ASSERT_TRUE(write(msr, kPageA | 1));
    EXPECT_EQ(platform.where(kind, 0), kPageA);
    EXPECT_TRUE(write(msr, kOutsideRam | 1)) << "no #GP outside RAM";
    EXPECT_EQ(read(msr), kOutsideRam | 1);
    EXPECT_EQ(platform.where(kind, 0), std::nullopt) << "the page left kPageA";
    ASSERT_TRUE(write(msr, kPageB | 1));
    EXPECT_EQ(platform.where(kind, 0), kPageB);
  }
}

TEST_F(PartitionOverlayTest, HypercallOutsideRamFaultsAndStaysWhereItWas) {
  ASSERT_TRUE(write(HV_X64_MSR_GUEST_OS_ID, 0x8100000000000001));
  ASSERT_TRUE(write(HV_X64_MSR_HYPERCALL, kPageA | 1));
  EXPECT_FALSE(write(HV_X64_MSR_HYPERCALL, kOutsideRam | 1));
  EXPECT_EQ(read(HV_X64_MSR_HYPERCALL), kPageA | 1);
  EXPECT_EQ(platform.where(OverlayKind::kHypercall, 0), kPageA);
}

// A refused VP_ASSIST_PAGE write (#GP) changes nothing: the MSR, the placement and the content
// the guest wrote to the page stay; an accepted enabling write shows a zeroed page.
TEST_F(PartitionOverlayTest, VpAssistOutsideRamFaultsAndKeepsThePageAndItsContent) {
  ASSERT_TRUE(write(HV_X64_MSR_VP_ASSIST_PAGE, kPageA | 1));
  uint8_t* page = platform.overlay_page(OverlayKind::kVpAssist, 0);
  page[8] = 0x5A;
  EXPECT_FALSE(write(HV_X64_MSR_VP_ASSIST_PAGE, kOutsideRam | 1));
  EXPECT_EQ(read(HV_X64_MSR_VP_ASSIST_PAGE), kPageA | 1);
  EXPECT_EQ(platform.where(OverlayKind::kVpAssist, 0), kPageA);
  EXPECT_EQ(page[8], 0x5A) << "the faulting write cleared the page";
  ASSERT_TRUE(write(HV_X64_MSR_VP_ASSIST_PAGE, kPageB | 1));
  EXPECT_EQ(platform.where(OverlayKind::kVpAssist, 0), kPageB);
  EXPECT_EQ(page[8], 0) << "an accepted enabling write shows a zeroed page";
}

// CRASH_CTL with CrashNotify|CrashMessage (§2.8): the message is read from P3 through the writing
// VP's view, min(P4, 4096) bytes, cut at the first NUL; outside RAM there is no message. Without
// CrashMessage nothing is read; without CrashNotify nothing is reported.
TEST_F(PartitionOverlayTest, CrashMessageIsReadThroughTheVpsViewAndBounded) {
  constexpr uint64_t kNotify = 1ull << 63, kMessage = 1ull << 62;
  const char text[] = "panic: out of cheese";
  ASSERT_TRUE(platform.mem.write(kPageA, text, sizeof text));
  std::array<uint8_t, 5000> letters;
  for (size_t i = 0; i < letters.size(); ++i) letters[i] = static_cast<uint8_t>('a' + i % 26);
  ASSERT_TRUE(platform.mem.write(kPageB, letters.data(), letters.size()));
  auto crash_with = [&](uint64_t p3, uint64_t p4, uint64_t ctl) {
    platform.crash.reset();
    EXPECT_TRUE(write(HV_X64_MSR_CRASH_P0 + 3, p3));
    EXPECT_TRUE(write(HV_X64_MSR_CRASH_P0 + 4, p4));
    EXPECT_TRUE(write(HV_X64_MSR_CRASH_CTL, ctl));
    return platform.crash;
  };
  std::optional<CrashReport> r = crash_with(kPageA, 200, kNotify | kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message, text) << "cut at the NUL";
  EXPECT_EQ(r->params[3], kPageA);
  r = crash_with(kPageB, 5000, kNotify | kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message, std::string(letters.begin(), letters.begin() + 4096)) << "P4 over 4096 is cut to 4096";
  r = crash_with(kOutsideRam, 64, kNotify | kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message, "");
  EXPECT_EQ(r->params[3], kOutsideRam);
  r = crash_with(kPageA, 200, kNotify);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message, "") << "no CrashMessage, no message";
  EXPECT_FALSE(crash_with(kPageA, 200, kMessage)) << "no CrashNotify, no report";
}

}  // namespace
}  // namespace hvsim::hv
