#include "sim/machine/overlays.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace hvsim {
namespace {

struct Shown {
  int vp;
  uint64_t gpa;
  std::optional<uint32_t> overlay;
  bool operator==(const Shown&) const = default;
};

struct Fixture {
  GuestMemory mem{4 << 20};
  Tracer tracer;
  std::vector<Shown> log;
  OverlayPages pages{mem, 2, [this](int vp, uint64_t gpa, std::optional<uint32_t> o) { log.push_back({vp, gpa, o}); },
                     tracer};
};

constexpr GuestMemory::GuestAccess kRw = GuestMemory::GuestAccess::kReadWrite;

}  // namespace

TEST(OverlayPages, PartitionWideOverlayIsShownToEveryVpAndRemovedCleanly) {
  Fixture f;
  auto hc = f.pages.create("hypercall", kNoVp, GuestMemory::GuestAccess::kReadExecute);
  EXPECT_TRUE(f.pages.place(hc, 0x5000, VirtualTime{}));
  EXPECT_EQ(f.log, (std::vector<Shown>{{0, 0x5000, 0}, {1, 0x5000, 0}}));
  f.log.clear();
  EXPECT_TRUE(f.pages.place(hc, std::nullopt, VirtualTime{}));
  EXPECT_EQ(f.log, (std::vector<Shown>{{0, 0x5000, std::nullopt}, {1, 0x5000, std::nullopt}}));
}

TEST(OverlayPages, PerVpOverlayIsSeenOnlyByItsVp) {
  Fixture f;
  auto simp1 = f.pages.create("simp", 1, kRw);
  EXPECT_TRUE(f.pages.place(simp1, 0x7000, VirtualTime{}));
  EXPECT_EQ(f.log, (std::vector<Shown>{{1, 0x7000, 0}}));
}

TEST(OverlayPages, LaterOverlayWinsAndTheEarlierReappears) {
  Fixture f;
  auto a = f.pages.create("a", 0, kRw), b = f.pages.create("b", 0, kRw);
  f.pages.place(a, 0x8000, VirtualTime{});
  f.pages.place(b, 0x8000, VirtualTime{});
  f.log.clear();
  f.pages.place(b, 0x9000, VirtualTime{});  // move b: a is visible again at 0x8000
  EXPECT_EQ(f.log, (std::vector<Shown>{{0, 0x8000, 0}, {0, 0x9000, 1}}));
  EXPECT_EQ(f.pages.placement(b), 0x9000u);
}

TEST(OverlayPages, RefusesMisalignedOrOutsideRam) {
  Fixture f;
  auto a = f.pages.create("a", kNoVp, kRw);
  EXPECT_FALSE(f.pages.place(a, 0x8001, VirtualTime{}));
  EXPECT_FALSE(f.pages.place(a, 4 << 20, VirtualTime{}));
  EXPECT_TRUE(f.log.empty());
}

TEST(GuestMemoryOverlay, AliasShowsOverlayThenTheUnchangedRam) {
  GuestMemory mem(4 << 20);
  uint8_t* alias = mem.map_alias();
  std::memset(mem.base() + 0x3000, 0xab, 0x1000);
  GuestMemory::OverlayPage p = mem.allocate_overlay(kRw);
  std::memset(p.host, 0x5a, 0x1000);
  mem.show_overlay(alias, 0x3000, p.index);
  EXPECT_EQ(alias[0x3000], 0x5a);
  alias[0x3001] = 0x11;  // a write through the alias lands in the overlay page
  EXPECT_EQ(p.host[1], 0x11);
  EXPECT_EQ(mem.base()[0x3001], 0xab);  // RAM untouched
  mem.show_ram(alias, 0x3000);
  EXPECT_EQ(alias[0x3001], 0xab);
}

TEST(GuestMemoryOverlay, GuestAccessIsRecordedPerPage) {
  GuestMemory mem(4 << 20);
  GuestMemory::OverlayPage rw = mem.allocate_overlay(kRw);
  GuestMemory::OverlayPage rx = mem.allocate_overlay(GuestMemory::GuestAccess::kReadExecute);
  EXPECT_TRUE(mem.overlay_guest_writable(rw.index));
  EXPECT_FALSE(mem.overlay_guest_writable(rx.index));
  EXPECT_FALSE(mem.overlay_guest_writable(rx.index + 1));  // no such page
  rx.host[0] = 0xcc;  // the host always writes its own pages
  EXPECT_EQ(rx.host[0], 0xcc);
}

}  // namespace hvsim
