#include "sim/cpu/x86_delivery.h"

#include <gtest/gtest.h>

#include "sim/cpu/x86_defs.h"
#include "tests/support/flat_memory.h"

namespace hvsim::x86 {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTss = 0x3000;

uint64_t gate(uint64_t target, uint16_t sel, uint8_t type, unsigned dpl, unsigned ist, bool present = true) {
  return (target & 0xffff) | (uint64_t{sel} << 16) | (uint64_t{ist} << 32) | (uint64_t{type} << 40) |
         (uint64_t{dpl} << 45) | (uint64_t{present} << 47) | ((target & 0xffff0000ull) << 32);
}

struct Cpu {
  test::FlatMemory mem{0x100000};
  InterruptedState s;
  Cpu() {
    mem.put<uint64_t>(kGdt + 0x08, 0x00af9b000000ffffull);
    mem.put<uint64_t>(kGdt + 0x10, 0x00cf93000000ffffull);
    mem.put<uint64_t>(kGdt + 0x28, 0x00affb000000ffffull);
    mem.put<uint64_t>(kTss + 4, 0x80000);       // RSP0
    mem.put<uint64_t>(kTss + 0x24, 0x90000);    // IST1
    s.rip = 0x4000; s.rsp = 0x70008; s.rflags = 0x202; s.cs = 0x08; s.ss = 0x10; s.cpl = 0;
    s.idtr_base = kIdt; s.idtr_limit = 256 * 16 - 1; s.gdtr_base = kGdt; s.gdtr_limit = 0x3f; s.tr_base = kTss;
    s.paging.efer = kEferLma;  // long mode, paging off in the test memory
  }
  void set_gate(uint8_t v, uint64_t lo) { mem.put<uint64_t>(kIdt + v * 16ull, lo); mem.put<uint64_t>(kIdt + v * 16ull + 8, 0); }
};

}  // namespace

TEST(X86Delivery, SameLevelFaultPushesFrameWithErrorCode) {
  Cpu c;
  c.set_gate(kGP, gate(0x5000, 0x08, kGateInterrupt64, 0, 0));
  DeliveryResult d = deliver_event(c.mem, c.s, Event{kGP, EventKind::kFault, true, 0x18});
  ASSERT_TRUE(d.delivered) << d.why;
  EXPECT_EQ(d.rip, 0x5000u);
  EXPECT_EQ(d.rsp, 0x70000u - 48);  // aligned down to 16, then 6 quadwords
  EXPECT_EQ(d.rflags & kRflagsIf, 0u);
  EXPECT_FALSE(d.stack_switched);
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 0), 0x18u);     // error code
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 8), 0x4000u);   // RIP
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 16), 0x08u);    // CS
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 24), 0x202u);   // RFLAGS
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 32), 0x70008u); // RSP
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 40), 0x10u);    // SS
}

TEST(X86Delivery, FromCpl3SwitchesToRsp0AndNullSs) {
  Cpu c;
  c.s.cpl = 3; c.s.cs = 0x2b; c.s.ss = 0x23;
  c.set_gate(0x80, gate(0x6000, 0x08, kGateTrap64, 3, 0));
  DeliveryResult d = deliver_event(c.mem, c.s, Event{0x80, EventKind::kSoftwareInt, false, 0});
  ASSERT_TRUE(d.delivered) << d.why;
  EXPECT_TRUE(d.stack_switched);
  EXPECT_EQ(d.cpl, 0u);
  EXPECT_EQ(d.rsp, 0x80000u - 40);
  EXPECT_EQ(d.ss.selector, 0u);
  EXPECT_EQ(d.cs.selector, 0x08u);
  EXPECT_NE(d.rflags & kRflagsIf, 0u);  // trap gate keeps IF
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 8), 0x2bu);
  EXPECT_EQ(c.mem.get<uint64_t>(d.rsp + 32), 0x23u);
}

TEST(X86Delivery, IstStackAndSoftwareIntDplCheck) {
  Cpu c;
  c.set_gate(kNMI, gate(0x7000, 0x08, kGateInterrupt64, 0, 1));
  DeliveryResult d = deliver_event(c.mem, c.s, Event{kNMI, EventKind::kExternal, false, 0});
  ASSERT_TRUE(d.delivered);
  EXPECT_EQ(d.rsp, 0x90000u - 40);
  c.s.cpl = 3;
  c.set_gate(0x81, gate(0x7000, 0x08, kGateInterrupt64, 0, 0));
  d = deliver_event(c.mem, c.s, Event{0x81, EventKind::kSoftwareInt, false, 0});
  EXPECT_FALSE(d.delivered);
  EXPECT_EQ(d.fault.vector, kGP);
  EXPECT_EQ(d.fault.error, (0x81u << 3) | 2u);
}

TEST(X86Delivery, UnusableGatesRaiseTheArchitecturalFault) {
  Cpu c;
  c.s.idtr_limit = 0;
  DeliveryResult d = deliver_event(c.mem, c.s, Event{kUD, EventKind::kFault, false, 0});
  EXPECT_FALSE(d.delivered);
  EXPECT_EQ(d.fault.vector, kGP);
  EXPECT_EQ(d.fault.error, (6u << 3) | 2u);
  c.s.idtr_limit = 256 * 16 - 1;
  c.set_gate(kUD, gate(0x5000, 0x08, kGateInterrupt64, 0, 0, false));
  d = deliver_event(c.mem, c.s, Event{kUD, EventKind::kFault, false, 0});
  EXPECT_EQ(d.fault.vector, kNP);
  c.set_gate(kUD, gate(0x5000, 0x48, kGateInterrupt64, 0, 0));  // selector beyond the GDT
  d = deliver_event(c.mem, c.s, Event{kUD, EventKind::kFault, false, 0});
  EXPECT_EQ(d.fault.vector, kGP);
  EXPECT_EQ(d.fault.error, 0x48u);
  c.s.paging.efer = 0;
  d = deliver_event(c.mem, c.s, Event{kUD, EventKind::kFault, false, 0});
  EXPECT_TRUE(d.undeliverable);
}

}  // namespace hvsim::x86
