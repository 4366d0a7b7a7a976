#include "models/apic/local_apic.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace hvsim::apic {
namespace {

constexpr uint64_t kBase = 0xFEE00000;
constexpr uint64_t kXApicBsp = kBase | kApicBaseEnable | kApicBaseBsp;
constexpr uint64_t kX2ApicBsp = kXApicBsp | kApicBaseExtd;
constexpr uint32_t kMsrTpr = 0x808, kMsrPpr = 0x80A, kMsrEoi = 0x80B, kMsrLdr = 0x80D, kMsrSvr = 0x80F,
                   kMsrEsr = 0x828, kMsrIcr = 0x830, kMsrLvtTimer = 0x832, kMsrLvtLint0 = 0x835,
                   kMsrLvtError = 0x837, kMsrInitial = 0x838, kMsrCurrent = 0x839, kMsrDivide = 0x83E,
                   kMsrSelfIpi = 0x83F;
constexpr VirtualTime T0{};

struct Ipi {
  std::string kind;
  uint32_t from, to;
  uint8_t vector;
  bool operator==(const Ipi&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ipi& i) {
  return os << i.kind << "(" << i.from << "->" << i.to << ", 0x" << std::hex << int{i.vector} << std::dec << ")";
}

class RecordingIpis : public IpiTarget {
 public:
  uint32_t vp_count() const override { return static_cast<uint32_t>(apics.size()); }
  void deliver_fixed(uint32_t from, uint32_t to, uint8_t v) override { sent.push_back({"fixed", from, to, v}); }
  void deliver_init(uint32_t from, uint32_t to) override { sent.push_back({"init", from, to, 0}); }
  void deliver_startup(uint32_t from, uint32_t to, uint8_t v) override { sent.push_back({"sipi", from, to, v}); }
  void deliver_nmi(uint32_t from, uint32_t to) override { sent.push_back({"nmi", from, to, 0}); }
  const LocalApic* apic(uint32_t vp) const override { return vp < apics.size() ? apics[vp] : nullptr; }

  std::vector<LocalApic*> apics;
  std::vector<Ipi> sent;
};

class LocalApicTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kVps = 4;

  LocalApicTest() {
    for (uint32_t vp = 0; vp < kVps; ++vp) {
      apics_.push_back(std::make_unique<LocalApic>(vp, vp == 0, ApicParams{}, ipis_, tracer_));
      ipis_.apics.push_back(apics_.back().get());
    }
  }

  LocalApic& a(uint32_t vp = 0) { return *apics_[vp]; }
  static uint64_t base_of(const LocalApic& apic) { return apic.apic_base(); }
  void to_x2(LocalApic& apic) {
    ASSERT_EQ(apic.msr_write(kMsrIa32ApicBase, base_of(apic) | kApicBaseExtd, T0), true);
  }
  void all_to_x2() {
    for (auto& apic : apics_) to_x2(*apic);
  }
  // Reads an MSR that must not fault.
  uint64_t rd(uint32_t msr, VirtualTime now = T0, uint32_t vp = 0) {
    std::optional<MsrAccess> r = a(vp).msr_read(msr, now);
    EXPECT_TRUE(r.has_value());
    EXPECT_FALSE(r && r->gp) << std::hex << msr;
    return r ? r->value : ~0ull;
  }
  bool read_gp(uint32_t msr, uint32_t vp = 0) {
    std::optional<MsrAccess> r = a(vp).msr_read(msr, T0);
    return r && r->gp;
  }
  // true: written; false: #GP. Fails the test for "not mine".
  bool wr(uint32_t msr, uint64_t value, VirtualTime now = T0, uint32_t vp = 0) {
    std::optional<bool> r = a(vp).msr_write(msr, value, now);
    EXPECT_TRUE(r.has_value()) << std::hex << msr;
    return r.value_or(false);
  }
  void sw_enable_x2(uint32_t vp = 0) { ASSERT_TRUE(wr(kMsrSvr, 0x1FF, T0, vp)); }
  // Dumps every xAPIC register through MMIO (for reset comparisons).
  static std::vector<uint32_t> dump(const LocalApic& apic) {
    std::vector<uint32_t> regs;
    for (uint32_t off = 0; off < 0x400; off += 16) regs.push_back(apic.mmio_read(off, T0));
    return regs;
  }

  Tracer tracer_;
  RecordingIpis ipis_;
  std::vector<std::unique_ptr<LocalApic>> apics_;
};

// ---- reset values, APIC base, modes ----

TEST_F(LocalApicTest, PowerUpValuesInXApicMode) {
  EXPECT_EQ(a(0).apic_base(), 0xFEE00900u);  // enabled, BSP
  EXPECT_EQ(a(1).apic_base(), 0xFEE00800u);  // enabled, AP
  EXPECT_EQ(a(0).mode(), ApicMode::kXApic);
  LocalApic& ap = a(2);
  EXPECT_EQ(ap.mmio_read(kRegId, T0), 2u << 24);
  EXPECT_EQ(ap.mmio_read(kRegVersion, T0), 0x50014u);
  EXPECT_EQ(ap.mmio_read(kRegTpr, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegPpr, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegLdr, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegDfr, T0), 0xFFFFFFFFu);
  EXPECT_EQ(ap.mmio_read(kRegSvr, T0), 0xFFu);
  EXPECT_FALSE(ap.software_enabled());
  for (uint32_t off = kRegIsr0; off < kRegEsr; off += 16) EXPECT_EQ(ap.mmio_read(off, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegEsr, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegIcrLow, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegIcrHigh, T0), 0u);
  for (uint32_t off = kRegLvtTimer; off <= kRegLvtError; off += 16) EXPECT_EQ(ap.mmio_read(off, T0), 0x10000u);
  EXPECT_EQ(ap.mmio_read(kRegInitialCount, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegCurrentCount, T0), 0u);
  EXPECT_EQ(ap.mmio_read(kRegDivideConfig, T0), 0u);
  EXPECT_EQ(ap.poll(T0), std::nullopt);
}

TEST_F(LocalApicTest, X2ApicIdAndLogicalId) {
  to_x2(a(3));
  EXPECT_EQ(rd(0x802, T0, 3), 3u);
  EXPECT_EQ(rd(0x803, T0, 3), 0x50014u);
  EXPECT_EQ(rd(kMsrLdr, T0, 3), 0x8u);  // cluster 0, bit 3
  LocalApic big(17, false, ApicParams{}, ipis_, tracer_);
  ASSERT_EQ(big.msr_write(kMsrIa32ApicBase, kBase | kApicBaseEnable | kApicBaseExtd, T0), true);
  EXPECT_EQ(big.msr_read(0x802, T0)->value, 17u);
  EXPECT_EQ(big.msr_read(kMsrLdr, T0)->value, 0x10002u);  // cluster 1, bit 1
}

TEST_F(LocalApicTest, ApicBaseTransitions) {
  LocalApic& apic = a(0);
  EXPECT_FALSE(wr(kMsrIa32ApicBase, kBase | kApicBaseExtd | kApicBaseBsp));  // invalid EN=0, EXTD=1
  EXPECT_TRUE(wr(kMsrIa32ApicBase, kX2ApicBsp));                           // xAPIC -> x2APIC
  EXPECT_EQ(apic.mode(), ApicMode::kX2Apic);
  EXPECT_FALSE(wr(kMsrIa32ApicBase, kXApicBsp));  // x2APIC -> xAPIC directly
  EXPECT_EQ(rd(kMsrIa32ApicBase), kX2ApicBsp);
  EXPECT_TRUE(wr(kMsrIa32ApicBase, kBase | kApicBaseBsp));  // x2APIC -> disabled
  EXPECT_EQ(apic.mode(), ApicMode::kDisabled);
  EXPECT_FALSE(wr(kMsrIa32ApicBase, kX2ApicBsp));  // disabled -> x2APIC
  EXPECT_TRUE(wr(kMsrIa32ApicBase, kXApicBsp));    // disabled -> xAPIC
  EXPECT_EQ(apic.mode(), ApicMode::kXApic);
  EXPECT_TRUE(wr(kMsrIa32ApicBase, kXApicBsp));  // no change
  // Reserved bits and relocation.
  EXPECT_FALSE(wr(kMsrIa32ApicBase, kXApicBsp | 1));
  EXPECT_FALSE(wr(kMsrIa32ApicBase, kXApicBsp | (1u << 9)));
  EXPECT_FALSE(wr(kMsrIa32ApicBase, kXApicBsp | (1ull << 63)));
  EXPECT_FALSE(wr(kMsrIa32ApicBase, (kXApicBsp & ~kBase) | 0xFED00000));
  // The BSP flag is read/write.
  EXPECT_TRUE(wr(kMsrIa32ApicBase, kBase | kApicBaseEnable));
  EXPECT_EQ(rd(kMsrIa32ApicBase), kBase | kApicBaseEnable);
}

TEST_F(LocalApicTest, DisablingResetsRegisters) {
  LocalApic& apic = a(1);
  std::vector<uint32_t> fresh = dump(apic);
  apic.mmio_write(kRegSvr, 0x1FF, T0);
  apic.mmio_write(kRegTpr, 0x40, T0);
  apic.mmio_write(kRegLvtTimer, 0x20, T0);
  apic.mmio_write(kRegInitialCount, 1000, T0);
  apic.accept(0x80, false);
  ASSERT_TRUE(wr(kMsrIa32ApicBase, kBase, T0, 1));
  EXPECT_EQ(apic.mmio_read(kRegTpr, T0), 0u);  // MMIO reads 0 while disabled
  EXPECT_FALSE(apic.irr(0x80));
  EXPECT_EQ(apic.pending_vector(), std::nullopt);
  apic.accept(0x81, false);  // a disabled APIC accepts nothing
  EXPECT_FALSE(apic.irr(0x81));
  EXPECT_EQ(apic.poll(T0), std::nullopt);
  ASSERT_TRUE(wr(kMsrIa32ApicBase, kBase | kApicBaseEnable, T0, 1));
  EXPECT_EQ(dump(apic), fresh);
}

TEST_F(LocalApicTest, InitResetKeepsBaseAndClearsTheRest) {
  LocalApic fresh(0, true, ApicParams{}, ipis_, tracer_);
  LocalApic& apic = a(0);
  apic.mmio_write(kRegSvr, 0x1FF, T0);
  apic.mmio_write(kRegTpr, 0x40, T0);
  apic.mmio_write(kRegLdr, 0x01000000, T0);
  apic.mmio_write(kRegDfr, 0x0FFFFFFF, T0);
  apic.mmio_write(kRegIcrHigh, 0x01000000, T0);
  apic.mmio_write(kRegLvtTimer, 0x20020, T0);
  apic.mmio_write(kRegDivideConfig, 0xB, T0);
  apic.mmio_write(kRegInitialCount, 1000, T0);
  apic.accept(0x80, false);
  apic.on_delivered(0x80);
  apic.accept(0x90, true);
  apic.accept(3, false);
  apic.mmio_write(kRegEsr, 0, T0);
  ASSERT_NE(dump(apic), dump(fresh));
  apic.reset();
  EXPECT_EQ(dump(apic), dump(fresh));
  EXPECT_EQ(apic.poll(VirtualTime::from_ms(1)), std::nullopt);
  EXPECT_EQ(apic.pending_errors(), 0u);
  // INIT in x2APIC mode stays in x2APIC mode.
  to_x2(apic);
  apic.reset();
  EXPECT_EQ(apic.mode(), ApicMode::kX2Apic);
  EXPECT_EQ(apic.apic_base(), kX2ApicBsp);
}

TEST_F(LocalApicTest, MsrsThatAreNotMine) {
  EXPECT_EQ(a().msr_read(0x10, T0), std::nullopt);
  EXPECT_EQ(a().msr_read(0x7FF, T0), std::nullopt);
  EXPECT_EQ(a().msr_read(0x900, T0), std::nullopt);
  EXPECT_EQ(a().msr_read(0x40000073, T0), std::nullopt);
  EXPECT_EQ(a().msr_write(0x4000006F, 0, T0), std::nullopt);
  EXPECT_EQ(a().msr_write(0x40000073, 0, T0), std::nullopt);
}

TEST_F(LocalApicTest, X2ApicMsrsFaultOutsideX2ApicMode) {
  EXPECT_TRUE(read_gp(0x802));
  EXPECT_FALSE(wr(kMsrTpr, 0x10));
  EXPECT_FALSE(wr(kMsrEoi, 0));
  ASSERT_TRUE(wr(kMsrIa32ApicBase, kBase | kApicBaseBsp));  // disabled
  EXPECT_TRUE(read_gp(0x803));
  EXPECT_FALSE(wr(kMsrSvr, 0x1FF));
}

TEST_F(LocalApicTest, X2ApicReadOnlyWriteOnlyAndReservedRegisters) {
  to_x2(a());
  for (uint32_t msr : {0x802u, 0x803u, kMsrPpr, kMsrLdr, 0x810u, 0x817u, 0x818u, 0x820u, 0x827u, kMsrCurrent})
    EXPECT_FALSE(wr(msr, 0)) << std::hex << msr;
  EXPECT_TRUE(read_gp(kMsrEoi));
  EXPECT_TRUE(read_gp(kMsrSelfIpi));
  for (uint32_t msr : {0x800u, 0x801u, 0x804u, 0x809u, 0x80Cu, 0x80Eu, 0x82Fu, 0x831u, 0x83Au, 0x840u, 0x8FFu}) {
    EXPECT_TRUE(read_gp(msr)) << std::hex << msr;
    EXPECT_FALSE(wr(msr, 0)) << std::hex << msr;
  }
}

TEST_F(LocalApicTest, X2ApicReservedBits) {
  to_x2(a());
  EXPECT_FALSE(wr(kMsrTpr, 0x100));
  EXPECT_FALSE(wr(kMsrTpr, 1ull << 32));
  EXPECT_TRUE(wr(kMsrTpr, 0xFF));
  EXPECT_EQ(rd(kMsrTpr), 0xFFu);
  EXPECT_FALSE(wr(kMsrEoi, 1));
  EXPECT_TRUE(wr(kMsrEoi, 0));
  EXPECT_FALSE(wr(kMsrSvr, 0x1000));  // EOI-broadcast suppression is not supported
  EXPECT_FALSE(wr(kMsrSvr, 0x400));
  EXPECT_TRUE(wr(kMsrSvr, 0x3FF));
  EXPECT_EQ(rd(kMsrSvr), 0x3FFu);
  EXPECT_FALSE(wr(kMsrEsr, 1));
  EXPECT_TRUE(wr(kMsrEsr, 0));
  EXPECT_FALSE(wr(kMsrLvtTimer, 1u << 19));
  EXPECT_FALSE(wr(kMsrLvtTimer, 1u << 8));  // no delivery mode in the timer LVT
  EXPECT_TRUE(wr(kMsrLvtTimer, 0x20 | (1u << 12)));  // delivery status is read-only: ignored
  EXPECT_EQ(rd(kMsrLvtTimer), 0x20u);
  EXPECT_FALSE(wr(kMsrLvtLint0, 1u << 11));
  EXPECT_TRUE(wr(kMsrLvtLint0, 0x1A7FF | (1u << 14)));  // remote IRR is read-only
  EXPECT_EQ(rd(kMsrLvtLint0), 0x1A7FFu);
  EXPECT_TRUE(wr(0x833, 0x107FF));  // thermal
  EXPECT_FALSE(wr(0x833, 0x2000));
  EXPECT_TRUE(wr(0x834, 0x104FE));  // perf
  EXPECT_FALSE(wr(kMsrLvtError, 0x700));
  EXPECT_TRUE(wr(kMsrLvtError, 0x100FE));
  EXPECT_FALSE(wr(kMsrDivide, 0x4));
  EXPECT_TRUE(wr(kMsrDivide, 0xB));
  EXPECT_FALSE(wr(kMsrInitial, 1ull << 32));
  EXPECT_FALSE(wr(kMsrIcr, 0x40 | (1u << 13)));
  EXPECT_FALSE(wr(kMsrIcr, 0x40 | (1u << 16)));
  EXPECT_FALSE(wr(kMsrIcr, 0x40 | (1u << 20)));
  EXPECT_FALSE(wr(kMsrSelfIpi, 0x100));
  EXPECT_TRUE(ipis_.sent.empty());
}

TEST_F(LocalApicTest, XApicMmioMasksAndIgnoredAccesses) {
  LocalApic& apic = a(1);
  apic.mmio_write(kRegId, 0x07000000, T0);  // the ID is read-only here
  apic.mmio_write(kRegVersion, 0, T0);
  apic.mmio_write(kRegPpr, 0xFF, T0);
  EXPECT_EQ(apic.mmio_read(kRegId, T0), 1u << 24);
  EXPECT_EQ(apic.mmio_read(kRegVersion, T0), 0x50014u);
  EXPECT_EQ(apic.mmio_read(kRegPpr, T0), 0u);
  apic.mmio_write(kRegTpr, 0x1FF, T0);
  EXPECT_EQ(apic.mmio_read(kRegTpr, T0), 0xFFu);
  apic.mmio_write(kRegLdr, 0x12345678, T0);
  EXPECT_EQ(apic.mmio_read(kRegLdr, T0), 0x12000000u);
  apic.mmio_write(kRegDfr, 0, T0);
  EXPECT_EQ(apic.mmio_read(kRegDfr, T0), 0x0FFFFFFFu);
  apic.mmio_write(kRegSvr, 0xFFFFFFFF, T0);
  EXPECT_EQ(apic.mmio_read(kRegSvr, T0), 0x3FFu);
  apic.mmio_write(kRegLvtTimer, 0xFFFFFFFF, T0);
  EXPECT_EQ(apic.mmio_read(kRegLvtTimer, T0), 0x700FFu);
  apic.mmio_write(kRegLvtError, 0xFFFFFFFF, T0);
  EXPECT_EQ(apic.mmio_read(kRegLvtError, T0), 0x100FFu);
  apic.mmio_write(kRegIcrHigh, 0xFFFFFFFF, T0);
  EXPECT_EQ(apic.mmio_read(kRegIcrHigh, T0), 0xFF000000u);
  apic.mmio_write(kRegDivideConfig, 0xFF, T0);
  EXPECT_EQ(apic.mmio_read(kRegDivideConfig, T0), 0xBu);
  EXPECT_EQ(apic.mmio_read(kRegEoi, T0), 0u);  // write-only
  EXPECT_EQ(apic.mmio_read(kRegRrd, T0), 0u);
  EXPECT_EQ(apic.mmio_read(kRegSelfIpi, T0), 0u);
  apic.mmio_write(kRegSelfIpi, 0x40, T0);  // x2APIC only: ignored
  EXPECT_TRUE(ipis_.sent.empty());
  // Misaligned and out-of-page offsets.
  EXPECT_EQ(apic.mmio_read(kRegTpr + 4, T0), 0u);
  apic.mmio_write(kRegTpr + 1, 0x10, T0);
  EXPECT_EQ(apic.tpr(), 0xFF);
  EXPECT_EQ(apic.mmio_read(0x1000 + kRegTpr, T0), 0u);
  EXPECT_EQ(apic.mmio_read(0x400, T0), 0u);
  // MMIO is ignored in x2APIC mode.
  to_x2(apic);
  EXPECT_EQ(apic.mmio_read(kRegVersion, T0), 0u);
  apic.mmio_write(kRegTpr, 0x20, T0);
  EXPECT_EQ(apic.tpr(), 0xFF);
}

TEST_F(LocalApicTest, XApicErrorRegisterLatchesOnAnyWrite) {
  LocalApic& apic = a();
  apic.mmio_write(kRegSvr, 0x1FF, T0);
  apic.accept(1, false);
  apic.mmio_write(kRegEsr, 0xFFFFFFFF, T0);  // the value written does not matter
  EXPECT_EQ(apic.mmio_read(kRegEsr, T0), kEsrReceiveIllegalVector);
}

TEST_F(LocalApicTest, XApicArbitrationPriority) {
  LocalApic& apic = a();
  apic.mmio_write(kRegSvr, 0x1FF, T0);
  apic.mmio_write(kRegTpr, 0x45, T0);
  EXPECT_EQ(apic.mmio_read(kRegApr, T0), 0x45u);
  apic.accept(0x61, false);
  EXPECT_EQ(apic.mmio_read(kRegApr, T0), 0x60u);
}

// ---- software enable, priorities, EOI ----

TEST_F(LocalApicTest, SoftwareDisabledMasksLvtsAndDiscardsFixedInterrupts) {
  to_x2(a());
  EXPECT_TRUE(wr(kMsrLvtTimer, 0x20));  // mask cannot be cleared while software-disabled
  EXPECT_EQ(rd(kMsrLvtTimer), 0x10020u);
  a().accept(0x40, false);
  EXPECT_FALSE(a().irr(0x40));
  sw_enable_x2();
  EXPECT_EQ(rd(kMsrLvtTimer), 0x10020u);  // re-enabling does not unmask
  EXPECT_TRUE(wr(kMsrLvtTimer, 0x20));
  EXPECT_TRUE(wr(kMsrLvtLint0, 0x700));
  a().accept(0x40, false);
  EXPECT_EQ(a().pending_vector(), 0x40);
  EXPECT_TRUE(wr(kMsrSvr, 0xFF));  // software-disable: every LVT masked, IRR held
  EXPECT_EQ(rd(kMsrLvtTimer), 0x10020u);
  EXPECT_EQ(rd(kMsrLvtLint0), 0x10700u);
  EXPECT_TRUE(a().irr(0x40));
  EXPECT_EQ(a().pending_vector(), std::nullopt);
}

TEST_F(LocalApicTest, PriorityNestingAndEoiOrder) {
  to_x2(a());
  sw_enable_x2();
  LocalApic& apic = a();
  apic.accept(0x31, false);
  apic.accept(0x52, false);
  EXPECT_EQ(rd(0x820 + 1), (1u << 0x11));  // IRR bits 32..63
  EXPECT_EQ(rd(0x820 + 2), (1u << 0x12));
  EXPECT_EQ(apic.pending_vector(), 0x52);
  apic.on_delivered(0x52);
  EXPECT_TRUE(apic.isr(0x52));
  EXPECT_FALSE(apic.irr(0x52));
  EXPECT_EQ(rd(0x812), 1u << 0x12);
  EXPECT_EQ(apic.ppr(), 0x50);
  EXPECT_EQ(rd(kMsrPpr), 0x50u);
  EXPECT_EQ(apic.pending_vector(), std::nullopt);  // 0x31 is below the in-service class
  apic.accept(0x55, false);
  EXPECT_EQ(apic.pending_vector(), std::nullopt);  // same class as in service
  apic.accept(0x61, false);
  EXPECT_EQ(apic.pending_vector(), 0x61);  // nests
  apic.on_delivered(0x61);
  EXPECT_EQ(apic.ppr(), 0x60);
  EXPECT_TRUE(wr(kMsrEoi, 0));  // clears the highest in-service vector first
  EXPECT_FALSE(apic.isr(0x61));
  EXPECT_TRUE(apic.isr(0x52));
  EXPECT_EQ(apic.pending_vector(), std::nullopt);
  EXPECT_TRUE(wr(kMsrEoi, 0));
  EXPECT_FALSE(apic.isr(0x52));
  EXPECT_EQ(apic.pending_vector(), 0x55);
  EXPECT_TRUE(wr(kMsrEoi, 0));  // EOI with nothing in service: no effect
  EXPECT_EQ(apic.ppr(), 0);
  apic.on_delivered(0x99);  // not pending: ignored
  EXPECT_FALSE(apic.isr(0x99));
}

TEST_F(LocalApicTest, TprMasksLowerClasses) {
  to_x2(a());
  sw_enable_x2();
  LocalApic& apic = a();
  apic.accept(0x52, false);
  EXPECT_TRUE(wr(kMsrTpr, 0x50));
  EXPECT_EQ(apic.pending_vector(), std::nullopt);
  EXPECT_EQ(apic.ppr(), 0x50);
  apic.accept(0x61, false);
  EXPECT_EQ(apic.pending_vector(), 0x61);
  apic.on_delivered(0x61);
  EXPECT_TRUE(wr(kMsrTpr, 0x35));
  EXPECT_EQ(apic.ppr(), 0x60);  // the in-service class is higher than TPR
  EXPECT_TRUE(wr(kMsrTpr, 0x75));
  EXPECT_EQ(apic.ppr(), 0x75);
}

TEST_F(LocalApicTest, AutoEoiVectorsSkipIsr) {
  to_x2(a());
  sw_enable_x2();
  LocalApic& apic = a();
  apic.accept(0xF3, true);
  EXPECT_EQ(apic.pending_vector(), 0xF3);
  apic.on_delivered(0xF3);
  EXPECT_FALSE(apic.irr(0xF3));
  EXPECT_FALSE(apic.isr(0xF3));
  EXPECT_EQ(apic.ppr(), 0);
  apic.accept(0xF3, false);
  apic.on_delivered(0xF3);
  EXPECT_TRUE(apic.isr(0xF3));
}

TEST_F(LocalApicTest, IllegalVectorsAndTheErrorRegister) {
  to_x2(a());
  sw_enable_x2();
  LocalApic& apic = a();
  apic.accept(5, false);
  EXPECT_FALSE(apic.irr(5));
  EXPECT_EQ(apic.pending_errors(), kEsrReceiveIllegalVector);
  EXPECT_EQ(rd(kMsrEsr), 0u);  // visible only after an ESR write
  EXPECT_TRUE(wr(kMsrEsr, 0));
  EXPECT_EQ(rd(kMsrEsr), kEsrReceiveIllegalVector);
  EXPECT_EQ(apic.pending_errors(), 0u);
  EXPECT_TRUE(wr(kMsrEsr, 0));
  EXPECT_EQ(rd(kMsrEsr), 0u);
  // The error LVT raises its vector on a new error.
  EXPECT_TRUE(wr(kMsrLvtError, 0xE0));
  EXPECT_TRUE(wr(kMsrIcr, (2ull << 32) | 0x0F));  // fixed IPI with an illegal vector: not sent
  EXPECT_TRUE(ipis_.sent.empty());
  EXPECT_EQ(apic.pending_errors(), kEsrSendIllegalVector);
  EXPECT_TRUE(apic.irr(0xE0));
  EXPECT_TRUE(wr(kMsrSelfIpi, 0x0F));
  EXPECT_TRUE(ipis_.sent.empty());
}

// ---- Hyper-V APIC MSRs ----

TEST_F(LocalApicTest, HyperVApicMsrsInXApicMode) {
  LocalApic& apic = a();
  apic.mmio_write(kRegSvr, 0x1FF, T0);
  EXPECT_TRUE(read_gp(HV_X64_MSR_EOI));
  EXPECT_TRUE(wr(HV_X64_MSR_TPR, 0x20));
  EXPECT_EQ(apic.mmio_read(kRegTpr, T0), 0x20u);
  EXPECT_EQ(rd(HV_X64_MSR_TPR), 0x20u);
  EXPECT_FALSE(wr(HV_X64_MSR_TPR, 0x100));
  apic.accept(0x40, false);
  apic.on_delivered(0x40);
  EXPECT_TRUE(wr(HV_X64_MSR_EOI, 0x1234));  // any value
  EXPECT_FALSE(apic.isr(0x40));
  // xAPIC: destination in bits 63:56.
  EXPECT_TRUE(wr(HV_X64_MSR_ICR, (0x02ull << 56) | 0x4041));
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 0, 2, 0x41}}));
  EXPECT_EQ(rd(HV_X64_MSR_ICR), (0x02ull << 56) | 0x4041);
  EXPECT_EQ(apic.mmio_read(kRegIcrHigh, T0), 0x02000000u);
  EXPECT_FALSE(wr(HV_X64_MSR_ICR, 0x40 | (1u << 13)));
  ASSERT_TRUE(wr(kMsrIa32ApicBase, kBase | kApicBaseBsp));
  EXPECT_TRUE(read_gp(HV_X64_MSR_TPR));
  EXPECT_TRUE(read_gp(HV_X64_MSR_ICR));
  EXPECT_FALSE(wr(HV_X64_MSR_EOI, 0));
}

TEST_F(LocalApicTest, HyperVIcrInX2ApicMode) {
  all_to_x2();
  EXPECT_TRUE(wr(HV_X64_MSR_ICR, (3ull << 32) | 0x42));
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 0, 3, 0x42}}));
  EXPECT_EQ(rd(kMsrIcr), (3ull << 32) | 0x42);
}

// ---- ICR destinations ----

TEST_F(LocalApicTest, X2ApicPhysicalDestinations) {
  all_to_x2();
  EXPECT_TRUE(wr(kMsrIcr, (2ull << 32) | 0x40 | (1u << 12)));  // delivery status is ignored
  EXPECT_EQ(rd(kMsrIcr), (2ull << 32) | 0x40);                  // and reads idle
  EXPECT_TRUE(wr(kMsrIcr, (7ull << 32) | 0x40));                // no such APIC
  EXPECT_TRUE(wr(kMsrIcr, (0xFFFFFFFFull << 32) | 0x41));       // broadcast
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 0, 2, 0x40},
                                          {"fixed", 0, 0, 0x41},
                                          {"fixed", 0, 1, 0x41},
                                          {"fixed", 0, 2, 0x41},
                                          {"fixed", 0, 3, 0x41}}));
}

TEST_F(LocalApicTest, X2ApicLogicalClusterDestinations) {
  all_to_x2();
  EXPECT_TRUE(wr(kMsrIcr, (0x0000000Aull << 32) | 0x800 | 0x50, T0, 1));  // cluster 0, bits 1 and 3
  EXPECT_TRUE(wr(kMsrIcr, (0x0001000Full << 32) | 0x800 | 0x51, T0, 1));  // cluster 1: nobody
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 1, 1, 0x50}, {"fixed", 1, 3, 0x50}}));
}

TEST_F(LocalApicTest, ShorthandsInBothModes) {
  LocalApic& apic = a(1);
  apic.mmio_write(kRegIcrHigh, 0x03000000, T0);  // ignored with a shorthand
  apic.mmio_write(kRegIcrLow, (1u << 18) | 0x60, T0);  // self
  apic.mmio_write(kRegIcrLow, (2u << 18) | 0x61, T0);  // all including self
  apic.mmio_write(kRegIcrLow, (3u << 18) | 0x62, T0);  // all excluding self
  std::vector<Ipi> expected = {{"fixed", 1, 1, 0x60}, {"fixed", 1, 0, 0x61}, {"fixed", 1, 1, 0x61},
                               {"fixed", 1, 2, 0x61}, {"fixed", 1, 3, 0x61}, {"fixed", 1, 0, 0x62},
                               {"fixed", 1, 2, 0x62}, {"fixed", 1, 3, 0x62}};
  EXPECT_EQ(ipis_.sent, expected);
  ipis_.sent.clear();
  to_x2(apic);
  EXPECT_TRUE(wr(kMsrIcr, (1u << 18) | 0x60, T0, 1));
  EXPECT_TRUE(wr(kMsrIcr, (2u << 18) | 0x61, T0, 1));
  EXPECT_TRUE(wr(kMsrIcr, (3u << 18) | 0x62, T0, 1));
  EXPECT_EQ(ipis_.sent, expected);
  ipis_.sent.clear();
  EXPECT_TRUE(wr(kMsrSelfIpi, 0x63, T0, 1));
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 1, 1, 0x63}}));
}

TEST_F(LocalApicTest, XApicPhysicalDestinations) {
  LocalApic& apic = a();
  apic.mmio_write(kRegIcrHigh, 0x02000000, T0);
  apic.mmio_write(kRegIcrLow, 0x4040, T0);
  EXPECT_EQ(apic.mmio_read(kRegIcrLow, T0), 0x4040u);
  apic.mmio_write(kRegIcrHigh, 0x09000000, T0);  // nobody
  apic.mmio_write(kRegIcrLow, 0x41, T0);
  apic.mmio_write(kRegIcrHigh, 0xFF000000, T0);  // broadcast
  apic.mmio_write(kRegIcrLow, 0x42, T0);
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 0, 2, 0x40},
                                          {"fixed", 0, 0, 0x42},
                                          {"fixed", 0, 1, 0x42},
                                          {"fixed", 0, 2, 0x42},
                                          {"fixed", 0, 3, 0x42}}));
}

TEST_F(LocalApicTest, XApicLogicalFlatAndClusterDestinations) {
  a(1).mmio_write(kRegLdr, 0x02000000, T0);
  a(2).mmio_write(kRegLdr, 0x04000000, T0);
  a(0).mmio_write(kRegIcrHigh, 0x06000000, T0);
  a(0).mmio_write(kRegIcrLow, 0x800 | 0x70, T0);  // flat: bits 1 and 2
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 0, 1, 0x70}, {"fixed", 0, 2, 0x70}}));
  ipis_.sent.clear();
  for (uint32_t vp = 1; vp < kVps; ++vp) a(vp).mmio_write(kRegDfr, 0x0FFFFFFF, T0);  // cluster model
  a(1).mmio_write(kRegLdr, 0x11000000, T0);
  a(2).mmio_write(kRegLdr, 0x12000000, T0);
  a(3).mmio_write(kRegLdr, 0x21000000, T0);
  a(0).mmio_write(kRegIcrHigh, 0x13000000, T0);
  a(0).mmio_write(kRegIcrLow, 0x800 | 0x71, T0);
  a(0).mmio_write(kRegIcrHigh, 0x21000000, T0);
  a(0).mmio_write(kRegIcrLow, 0x800 | 0x72, T0);
  a(0).mmio_write(kRegIcrHigh, 0xFF000000, T0);  // logical broadcast
  a(0).mmio_write(kRegIcrLow, 0x800 | 0x73, T0);
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"fixed", 0, 1, 0x71},
                                          {"fixed", 0, 2, 0x71},
                                          {"fixed", 0, 3, 0x72},
                                          {"fixed", 0, 0, 0x73},
                                          {"fixed", 0, 1, 0x73},
                                          {"fixed", 0, 2, 0x73},
                                          {"fixed", 0, 3, 0x73}}));
  // A model DFR that is neither flat nor cluster matches nothing; nor does an x2APIC peer.
  a(1).mmio_write(kRegDfr, 0x5FFFFFFF, T0);
  EXPECT_FALSE(a(1).accepts_xapic_logical(0x11));
  to_x2(a(2));
  EXPECT_FALSE(a(2).accepts_xapic_logical(0xFF));
}

TEST_F(LocalApicTest, InitStartupNmiAndLowestPriority) {
  all_to_x2();
  EXPECT_TRUE(wr(kMsrIcr, (1ull << 32) | 0xC500));  // INIT, level assert
  EXPECT_TRUE(wr(kMsrIcr, (1ull << 32) | 0x8500));  // INIT level de-assert: no effect
  EXPECT_TRUE(wr(kMsrIcr, (1ull << 32) | 0x4600 | 0x9A));  // STARTUP, page 0x9A
  EXPECT_TRUE(wr(kMsrIcr, (2ull << 32) | 0x400));  // NMI
  EXPECT_TRUE(wr(kMsrIcr, (3u << 18) | 0x4500));   // INIT all excluding self
  EXPECT_TRUE(wr(kMsrIcr, (1u << 18) | 0x4500));   // INIT to self: invalid shorthand combination
  EXPECT_TRUE(wr(kMsrIcr, (2u << 18) | 0x400));    // NMI all including self: invalid
  EXPECT_TRUE(wr(kMsrIcr, (1ull << 32) | 0x200));  // SMI: not modelled
  EXPECT_TRUE(wr(kMsrIcr, (0xFFFFFFFFull << 32) | 0x100 | 0x45));  // lowest priority: one target
  EXPECT_EQ(ipis_.sent, (std::vector<Ipi>{{"init", 0, 1, 0},
                                          {"sipi", 0, 1, 0x9A},
                                          {"nmi", 0, 2, 0},
                                          {"init", 0, 1, 0},
                                          {"init", 0, 2, 0},
                                          {"init", 0, 3, 0},
                                          {"fixed", 0, 0, 0x45}}));
}

// ---- timer ----

class LocalApicTimerTest : public LocalApicTest {
 protected:
  void SetUp() override {
    to_x2(a());
    sw_enable_x2();
  }
  static VirtualTime us(uint64_t n) { return VirtualTime::from_us(n); }
  static VirtualTime ns(uint64_t n) { return VirtualTime::from_ns(n); }
};

// 200 MHz input clock: 5 ns per tick before division.
TEST_F(LocalApicTimerTest, OneShotExactDeadlineAndCurrentCount) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20));
  ASSERT_TRUE(wr(kMsrDivide, 0xB));  // divide by 1
  ASSERT_TRUE(wr(kMsrInitial, 1000, ns(100)));
  EXPECT_EQ(a().poll(ns(100)), ns(5100));
  EXPECT_EQ(rd(kMsrCurrent, ns(100)), 1000u);
  EXPECT_EQ(rd(kMsrCurrent, ns(2600)), 500u);
  EXPECT_EQ(rd(kMsrCurrent, ns(2604)), 500u);  // whole ticks only
  EXPECT_EQ(rd(kMsrCurrent, ns(2605)), 499u);
  EXPECT_EQ(rd(kMsrInitial), 1000u);
  EXPECT_EQ(a().poll(ns(5100) - VirtualTime::from_ps(1)), ns(5100));
  EXPECT_FALSE(a().irr(0x20));
  EXPECT_EQ(rd(kMsrCurrent, ns(5100)), 0u);  // reads are pure: 0 even before the poll
  tracer_.enable_capture();
  EXPECT_EQ(a().poll(ns(5100)), std::nullopt);
  EXPECT_TRUE(a().irr(0x20));
  ASSERT_EQ(tracer_.captured().size(), 1u);
  EXPECT_EQ(tracer_.captured()[0], "{\"t\":5100000,\"vp\":0,\"ev\":\"apic.timer\",\"vector\":32,\"masked\":false}");
  EXPECT_EQ(a().poll(us(1000)), std::nullopt);  // one-shot: fired once
}

TEST_F(LocalApicTimerTest, DivideConfigurationValues) {
  const std::pair<uint32_t, uint64_t> kDivides[] = {{0x0, 2}, {0x1, 4}, {0x2, 8},  {0x3, 16},
                                                    {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20));
  for (auto [code, divisor] : kDivides) {
    ASSERT_TRUE(wr(kMsrDivide, code));
    EXPECT_EQ(rd(kMsrDivide), code);
    ASSERT_TRUE(wr(kMsrInitial, 10));
    EXPECT_EQ(a().poll(T0), ns(10 * divisor * 5)) << code;
    EXPECT_EQ(rd(kMsrCurrent, ns(5 * divisor)), 9u) << code;
  }
}

TEST_F(LocalApicTimerTest, PeriodicReloadsAndCoalescesMissedPeriods) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20020));  // periodic
  ASSERT_TRUE(wr(kMsrDivide, 0xB));
  ASSERT_TRUE(wr(kMsrInitial, 100, us(1)));  // 500 ns period
  EXPECT_EQ(a().poll(us(1)), ns(1500));
  EXPECT_EQ(a().poll(ns(1500)), ns(2000));
  EXPECT_TRUE(a().irr(0x20));
  EXPECT_EQ(rd(kMsrCurrent, ns(1500)), 100u);  // reloaded
  EXPECT_EQ(rd(kMsrCurrent, ns(1750)), 50u);
  a().on_delivered(0x20);
  ASSERT_TRUE(wr(kMsrEoi, 0));
  tracer_.enable_capture();
  EXPECT_EQ(a().poll(ns(3200)), ns(3500));  // 2.0, 2.5 and 3.0 us: one interrupt
  EXPECT_TRUE(a().irr(0x20));
  EXPECT_EQ(tracer_.captured().size(), 1u);
  EXPECT_EQ(rd(kMsrCurrent, ns(3200)), 60u);
  ASSERT_TRUE(wr(kMsrInitial, 0, ns(3300)));  // a zero initial count stops the timer
  EXPECT_EQ(a().poll(ns(3300)), std::nullopt);
  EXPECT_EQ(rd(kMsrCurrent, ns(3300)), 0u);
}

TEST_F(LocalApicTimerTest, MaskedTimerExpiresWithoutInterrupt) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x10020));
  ASSERT_TRUE(wr(kMsrDivide, 0xB));
  ASSERT_TRUE(wr(kMsrInitial, 10));
  tracer_.enable_capture();
  EXPECT_EQ(a().poll(ns(50)), std::nullopt);
  EXPECT_FALSE(a().irr(0x20));
  ASSERT_EQ(tracer_.captured().size(), 1u);
  EXPECT_NE(tracer_.captured()[0].find("\"masked\":true"), std::string::npos);
}

TEST_F(LocalApicTimerTest, DivideChangeRebasesTheRemainingCount) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20));
  ASSERT_TRUE(wr(kMsrDivide, 0xB));
  ASSERT_TRUE(wr(kMsrInitial, 1000));
  ASSERT_TRUE(wr(kMsrDivide, 0x0, ns(2500)));  // 500 left, now at 10 ns per count
  EXPECT_EQ(rd(kMsrCurrent, ns(2500)), 500u);
  EXPECT_EQ(a().poll(ns(2500)), ns(7500));
}

TEST_F(LocalApicTimerTest, ModeSwitchBetweenOneShotAndPeriodicKeepsTheCount) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20));
  ASSERT_TRUE(wr(kMsrDivide, 0xB));
  ASSERT_TRUE(wr(kMsrInitial, 100));
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20020, ns(250)));  // -> periodic with 50 left
  EXPECT_EQ(rd(kMsrCurrent, ns(250)), 50u);
  EXPECT_EQ(a().poll(ns(250)), ns(500));
  EXPECT_EQ(a().poll(ns(500)), ns(1000));
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x10020, ns(600)));  // mask only: no rebase, same deadline
  EXPECT_EQ(a().poll(ns(600)), ns(1000));
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x60020, ns(700)));  // reserved mode 11b: no timer
  EXPECT_EQ(a().poll(ns(700)), std::nullopt);
  EXPECT_EQ(rd(kMsrCurrent, ns(700)), 0u);
  ASSERT_TRUE(wr(kMsrInitial, 100, ns(800)));  // not armed in the reserved mode
  EXPECT_EQ(a().poll(ns(800)), std::nullopt);
}

TEST_F(LocalApicTimerTest, InputClockWithoutWholePicosecondTicks) {
  LocalApic apic(0, true, ApicParams{3000000, 2000000000}, ipis_, tracer_);  // 333333.3 ps per tick
  apic.mmio_write(kRegSvr, 0x1FF, T0);
  apic.mmio_write(kRegLvtTimer, 0x20, T0);
  apic.mmio_write(kRegDivideConfig, 0xB, T0);
  apic.mmio_write(kRegInitialCount, 3, T0);
  EXPECT_EQ(apic.poll(T0), VirtualTime::from_ns(1000));
  EXPECT_EQ(apic.mmio_read(kRegCurrentCount, VirtualTime::from_ps(333333)), 3u);
  EXPECT_EQ(apic.mmio_read(kRegCurrentCount, VirtualTime::from_ps(333334)), 2u);
  apic.mmio_write(kRegInitialCount, 1, T0);
  EXPECT_EQ(apic.poll(T0), VirtualTime::from_ps(333334));  // rounded up to the first whole tick
}

// 2 GHz TSC: 500 ps per tick.
TEST_F(LocalApicTimerTest, TscDeadlineMode) {
  EXPECT_TRUE(wr(kMsrIa32TscDeadline, 4000));  // ignored outside TSC-deadline mode
  EXPECT_EQ(rd(kMsrIa32TscDeadline), 0u);
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x40020));
  ASSERT_TRUE(wr(kMsrInitial, 1000));  // ignored in TSC-deadline mode
  EXPECT_EQ(rd(kMsrInitial), 0u);
  EXPECT_EQ(rd(kMsrCurrent, ns(1)), 0u);
  EXPECT_TRUE(wr(kMsrIa32TscDeadline, 4000));
  EXPECT_EQ(rd(kMsrIa32TscDeadline), 4000u);
  EXPECT_EQ(a().poll(T0), us(2));
  EXPECT_EQ(a().poll(us(2) - VirtualTime::from_ps(1)), us(2));
  EXPECT_EQ(rd(kMsrIa32TscDeadline, us(2)), 0u);  // pure: already expired
  EXPECT_EQ(a().poll(us(2)), std::nullopt);
  EXPECT_TRUE(a().irr(0x20));
  EXPECT_EQ(rd(kMsrIa32TscDeadline, us(2)), 0u);
  // A deadline in the past fires at once.
  EXPECT_TRUE(wr(kMsrIa32TscDeadline, 100, us(3)));
  EXPECT_EQ(a().poll(us(3)), std::nullopt);
  // Writing 0 disarms.
  EXPECT_TRUE(wr(kMsrIa32TscDeadline, 1000000, us(3)));
  EXPECT_TRUE(wr(kMsrIa32TscDeadline, 0, us(3)));
  EXPECT_EQ(a().poll(us(3)), std::nullopt);
  // Leaving TSC-deadline mode disarms and clears the deadline.
  EXPECT_TRUE(wr(kMsrIa32TscDeadline, 1000000, us(3)));
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20, us(3)));
  EXPECT_EQ(a().poll(us(3)), std::nullopt);
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x40020, us(3)));
  EXPECT_EQ(rd(kMsrIa32TscDeadline, us(3)), 0u);
}

TEST_F(LocalApicTimerTest, TscDeadlineFollowsTheTscOffset) {
  a().set_tsc_offset(1000);  // guest TSC = ticks + 1000
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x40020));
  ASSERT_TRUE(wr(kMsrIa32TscDeadline, 4000));
  EXPECT_EQ(a().poll(T0), ns(1500));
  ASSERT_TRUE(wr(kMsrIa32TscDeadline, UINT64_MAX));  // beyond virtual time: never
  EXPECT_EQ(a().poll(T0), std::nullopt);
  EXPECT_EQ(rd(kMsrIa32TscDeadline), UINT64_MAX);
}

TEST_F(LocalApicTimerTest, TscDeadlineFollowsAFrequencyChange) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x40020));
  ASSERT_TRUE(wr(kMsrIa32TscDeadline, 10000));  // 5 us at 2 GHz
  EXPECT_EQ(a().poll(T0), us(5));
  // At 1 us (TSC 2000) the TSC slows to 1 GHz: the remaining 8000 ticks take 8 us.
  a().set_tsc_clock(1000000000, us(1), 2000);
  EXPECT_EQ(rd(kMsrIa32TscDeadline, us(1)), 10000u);
  EXPECT_EQ(a().poll(us(1)), us(9));
  EXPECT_EQ(a().poll(us(9) - VirtualTime::from_ps(1)), us(9));
  EXPECT_FALSE(a().irr(0x20));
  EXPECT_EQ(a().poll(us(9)), std::nullopt);
  EXPECT_TRUE(a().irr(0x20));
}

TEST_F(LocalApicTimerTest, EnteringTscDeadlineModeStopsTheCountdown) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20));
  ASSERT_TRUE(wr(kMsrInitial, 1000));
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x40020));
  EXPECT_EQ(rd(kMsrInitial), 0u);
  EXPECT_EQ(a().poll(us(100)), std::nullopt);
  EXPECT_FALSE(a().irr(0x20));
}

TEST_F(LocalApicTimerTest, WritesCatchUpWithADueTimer) {
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x20));
  ASSERT_TRUE(wr(kMsrDivide, 0xB));
  ASSERT_TRUE(wr(kMsrInitial, 10));
  ASSERT_TRUE(wr(kMsrLvtTimer, 0x10020, ns(60)));  // masked after it already expired at 50 ns
  EXPECT_TRUE(a().irr(0x20));
}

// ---- trace ----

TEST_F(LocalApicTest, WritesThatChangeStateAreTraced) {
  tracer_.enable_capture();
  a().mmio_write(kRegTpr, 0x20, VirtualTime::from_ns(1));
  a().mmio_write(kRegTpr, 0x20, VirtualTime::from_ns(2));  // unchanged: no record
  EXPECT_FALSE(wr(kMsrEoi, 0));                              // not in x2APIC mode: #GP, no record
  ASSERT_EQ(tracer_.captured().size(), 1u);
  EXPECT_EQ(tracer_.captured()[0], "{\"t\":1000,\"vp\":0,\"ev\":\"apic.write\",\"reg\":\"tpr\",\"value\":\"0x20\"}");
  uint64_t records = tracer_.records();
  EXPECT_EQ(a().mmio_read(kRegTpr, T0), 0x20u);
  EXPECT_EQ(tracer_.records(), records);  // reads never trace
  ASSERT_TRUE(wr(kMsrIa32ApicBase, kX2ApicBsp, VirtualTime::from_ns(3)));
  EXPECT_EQ(tracer_.captured().back(),
            "{\"t\":3000,\"vp\":0,\"ev\":\"apic.write\",\"reg\":\"apic_base\",\"value\":\"0xfee00d00\"}");
}

}  // namespace
}  // namespace hvsim::apic
