#include "sim/cpu/x86_paging.h"

#include <gtest/gtest.h>

#include "sim/cpu/x86_defs.h"
#include "tests/support/flat_memory.h"

namespace hvsim::x86 {
namespace {

// PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000.
struct Tables {
  test::FlatMemory mem{0x400000};
  PagingMode mode{kCr0Pg | kCr0Pe | kCr0Wp, 0x1000, kCr4Pae, kEferLma | kEferLme};
  Tables() {
    mem.put<uint64_t>(0x1000, 0x2000 | 7);
    mem.put<uint64_t>(0x2000, 0x3000 | 7);
    mem.put<uint64_t>(0x3000, 0x4000 | 7);                 // 0..2M through a page table
    mem.put<uint64_t>(0x3008, 0x200000 | 0x83);            // 2M..4M: supervisor 2 MiB page, writable
    mem.put<uint64_t>(0x4000 + 5 * 8, 0x9000 | 5);         // 0x5000 -> 0x9000, user, read-only
    mem.put<uint64_t>(0x2000 + 8, 0x40000000ull | 0x87);   // 1G..2G: 1 GiB page (GPA 1G, beyond memory)
  }
};

}  // namespace

TEST(X86Paging, WalksFourKiBTwoMiBAndOneGiBPages) {
  Tables t;
  Translation r = translate(t.mem, t.mode, 0x5123, false, true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.gpa, 0x9123u);
  r = translate(t.mem, t.mode, 0x2abcde, true, false);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.gpa, 0x2abcdeu);
  r = translate(t.mem, t.mode, 0x40001234, false, false);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.gpa, 0x40001234u);
}

TEST(X86Paging, FaultsCarryTheArchitecturalErrorCode) {
  Tables t;
  EXPECT_EQ(translate(t.mem, t.mode, 0x6000, false, false).pf_error, 0u);   // not present, read
  EXPECT_EQ(translate(t.mem, t.mode, 0x6000, true, true).pf_error, 6u);    // not present, user write
  Translation r = translate(t.mem, t.mode, 0x5000, true, false);            // read-only with CR0.WP
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.pf_error, 3u);
  r = translate(t.mem, t.mode, 0x200000, false, true);                      // supervisor page from user
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.pf_error, 5u);
  t.mode.cr0 &= ~kCr0Wp;
  EXPECT_TRUE(translate(t.mem, t.mode, 0x5000, true, false).ok);            // WP off: supervisor may write
}

TEST(X86Paging, PagingOffIsIdentityAndLinearAccessCrossesPages) {
  Tables t;
  PagingMode off{};
  Translation r = translate(t.mem, off, 0x123456, true, true);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.gpa, 0x123456u);
  uint8_t buf[16] = {};
  LinearAccess a = read_linear(t.mem, t.mode, 0x5ff8, buf, sizeof buf, false);  // crosses into 0x6000
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.fault_gva, 0x6000u);
}

}  // namespace hvsim::x86
