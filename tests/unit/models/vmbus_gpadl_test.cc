// Tests for models/vmbus/gpadl.cc: GPADL_HEADER/GPADL_BODY reassembly and validation, the
// aggregate cap, teardown, and GpadlView page-by-page access over a flat guest memory.
#include "models/vmbus/gpadl.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "models/vmbus/protocol.h"
#include "tests/support/flat_memory.h"

namespace hvsim::vmbus {
namespace {

using Kind = GpadlTable::Outcome::Kind;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kBigCap = 1ull << 40;

struct RangeSpec {
  uint32_t byte_count;
  uint32_t byte_offset;
  std::vector<uint64_t> pfns;
};

uint64_t range_head(uint32_t byte_count, uint32_t byte_offset) {
  return uint64_t{byte_count} | uint64_t{byte_offset} << 32;
}

// The flat range data of a GPADL: per range {byte_count, byte_offset} then its PFNs.
std::vector<uint64_t> range_data(const std::vector<RangeSpec>& ranges) {
  std::vector<uint64_t> q;
  for (const RangeSpec& r : ranges) {
    q.push_back(range_head(r.byte_count, r.byte_offset));
    q.insert(q.end(), r.pfns.begin(), r.pfns.end());
  }
  return q;
}

std::vector<uint64_t> pfn_run(uint64_t first, size_t count) {
  std::vector<uint64_t> p;
  for (size_t i = 0; i < count; ++i) p.push_back(first + i);
  return p;
}

std::vector<uint8_t> header_msg(uint32_t handle, uint32_t relid, uint16_t range_buflen, uint16_t rangecount,
                                const std::vector<uint64_t>& qwords) {
  GpadlHeader h{};
  h.hdr.msgtype = static_cast<uint32_t>(MsgType::kGpadlHeader);
  h.child_relid = relid;
  h.gpadl = handle;
  h.range_buflen = range_buflen;
  h.rangecount = rangecount;
  std::vector<uint8_t> m(sizeof h + qwords.size() * 8);
  std::memcpy(m.data(), &h, sizeof h);
  if (!qwords.empty()) std::memcpy(m.data() + sizeof h, qwords.data(), qwords.size() * 8);
  return m;
}

std::vector<uint8_t> body_msg(uint32_t handle, const std::vector<uint64_t>& qwords) {
  GpadlBody b{};
  b.hdr.msgtype = static_cast<uint32_t>(MsgType::kGpadlBody);
  b.gpadl = handle;
  std::vector<uint8_t> m(sizeof b + qwords.size() * 8);
  std::memcpy(m.data(), &b, sizeof b);
  if (!qwords.empty()) std::memcpy(m.data() + sizeof b, qwords.data(), qwords.size() * 8);
  return m;
}

// A GPADL split the way a guest sends it: the header takes up to 27 qwords of range data (one
// range header + 26 PFNs for a single range), each body up to 28.
struct Messages {
  std::vector<uint8_t> header;
  std::vector<std::vector<uint8_t>> bodies;
};

Messages split(uint32_t handle, uint32_t relid, const std::vector<RangeSpec>& ranges) {
  const std::vector<uint64_t> q = range_data(ranges);
  const size_t in_header = std::min<size_t>(q.size(), kGpadlHeaderPfns + 1);
  Messages m;
  m.header = header_msg(handle, relid, static_cast<uint16_t>(q.size() * 8), static_cast<uint16_t>(ranges.size()),
                        {q.begin(), q.begin() + in_header});
  for (size_t at = in_header; at < q.size(); at += kGpadlBodyPfns) {
    const size_t n = std::min(kGpadlBodyPfns, q.size() - at);
    m.bodies.push_back(body_msg(handle, {q.begin() + at, q.begin() + at + n}));
  }
  return m;
}

RangeSpec linux_range(uint64_t first_pfn, size_t pages) {
  return {static_cast<uint32_t>(pages * kPage), 0, pfn_run(first_pfn, pages)};
}

GpadlTable::Outcome header(GpadlTable& t, const std::vector<uint8_t>& m) { return t.on_header(m.data(), m.size()); }
GpadlTable::Outcome body(GpadlTable& t, const std::vector<uint8_t>& m) { return t.on_body(m.data(), m.size()); }

// Sends every message; returns the last outcome.
GpadlTable::Outcome send_all(GpadlTable& t, const Messages& m) {
  GpadlTable::Outcome o = header(t, m.header);
  for (const auto& b : m.bodies) {
    if (o.kind != Kind::kIncomplete) return o;
    o = body(t, b);
  }
  return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- Well-formed GPADLs --------------------------------------------------------------------------

TEST(VmbusGpadl, SingleRangeInHeaderOnly) {
  GpadlTable t(kBigCap);
  const Messages m = split(0xE1E10, 7, {linux_range(0x100, 4)});
  ASSERT_TRUE(m.bodies.empty());
  const auto o = header(t, m.header);
  EXPECT_EQ(o.kind, Kind::kCreated) << o.error;
  EXPECT_EQ(o.handle, 0xE1E10u);
  EXPECT_EQ(o.relid, 7u);
  const Gpadl* g = t.find(0xE1E10);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->handle, 0xE1E10u);
  EXPECT_EQ(g->relid, 7u);
  ASSERT_EQ(g->ranges.size(), 1u);
  EXPECT_EQ(g->ranges[0].byte_count, 4 * kPage);
  EXPECT_EQ(g->ranges[0].byte_offset, 0u);
  EXPECT_EQ(g->pages(), pfn_run(0x100, 4));
  EXPECT_EQ(g->charged_bytes(), 4 * kPage);
  EXPECT_EQ(t.charged_bytes(), 4 * kPage);
  EXPECT_EQ(t.created_count(), 1u);
}

TEST(VmbusGpadl, FullHeaderOf26PagesCompletesWithoutBodies) {
  GpadlTable t(kBigCap);
  const Messages m = split(1, 1, {linux_range(0x200, 26)});
  ASSERT_TRUE(m.bodies.empty());
  EXPECT_EQ(m.header.size(), kMaxMessageSize - 4);  // 20 + 8 + 26 * 8
  EXPECT_EQ(header(t, m.header).kind, Kind::kCreated);
}

TEST(VmbusGpadl, HundredPagesInHeaderAndThreeBodies) {
  GpadlTable t(kBigCap);
  const Messages m = split(0xE1E11, 3, {linux_range(0x1000, 100)});
  ASSERT_EQ(m.bodies.size(), 3u);
  EXPECT_EQ(m.bodies[0].size(), 16u + 28 * 8);
  EXPECT_EQ(m.bodies[1].size(), 16u + 28 * 8);
  EXPECT_EQ(m.bodies[2].size(), 16u + 18 * 8);

  auto o = header(t, m.header);
  EXPECT_EQ(o.kind, Kind::kIncomplete) << o.error;
  EXPECT_EQ(t.charged_bytes(), 100 * kPage) << "the header reserves all announced pages";
  EXPECT_EQ(t.find(0xE1E11), nullptr) << "pending GPADLs are not visible";
  EXPECT_EQ(body(t, m.bodies[0]).kind, Kind::kIncomplete);
  EXPECT_EQ(body(t, m.bodies[1]).kind, Kind::kIncomplete);
  EXPECT_EQ(t.created_count(), 0u);
  o = body(t, m.bodies[2]);
  EXPECT_EQ(o.kind, Kind::kCreated) << o.error;
  EXPECT_EQ(o.handle, 0xE1E11u);
  EXPECT_EQ(o.relid, 3u);
  const Gpadl* g = t.find(0xE1E11);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->pages(), pfn_run(0x1000, 100));
  EXPECT_EQ(t.charged_bytes(), 100 * kPage);
}

TEST(VmbusGpadl, MultiRangeWithOffsetsInHeader) {
  GpadlTable t(kBigCap);
  const std::vector<RangeSpec> ranges = {
      {5000, 100, {0x10, 0x20}},  // 100 + 5000 bytes -> 2 pages
      {2, 4095, {0x30, 0x31}},    // straddles a page boundary -> 2 pages
      {1, 0, {0x40}},             // one byte -> 1 page
  };
  const auto o = send_all(t, split(9, 2, ranges));
  ASSERT_EQ(o.kind, Kind::kCreated) << o.error;
  const Gpadl* g = t.find(9);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->ranges.size(), 3u);
  EXPECT_EQ(g->ranges[0].byte_offset, 100u);
  EXPECT_EQ(g->ranges[0].byte_count, 5000u);
  EXPECT_EQ(g->ranges[1].pfns, (std::vector<uint64_t>{0x30, 0x31}));
  EXPECT_EQ(g->ranges[2].byte_count, 1u);
  EXPECT_EQ(g->pages(), (std::vector<uint64_t>{0x10, 0x20, 0x30, 0x31, 0x40}));
  EXPECT_EQ(g->charged_bytes(), 5 * kPage);
}

TEST(VmbusGpadl, MultiRangeWhoseSecondRangeHeaderArrivesInABody) {
  GpadlTable t(kBigCap);
  const std::vector<RangeSpec> ranges = {linux_range(0x100, 30), {3 * 4096 - 8, 8, {0x900, 0x901, 0x902}}};
  const Messages m = split(4, 1, ranges);
  ASSERT_EQ(m.bodies.size(), 1u);  // 35 qwords: 27 in the header, 8 in the body
  EXPECT_EQ(header(t, m.header).kind, Kind::kIncomplete);
  const auto o = body(t, m.bodies[0]);
  ASSERT_EQ(o.kind, Kind::kCreated) << o.error;
  const Gpadl* g = t.find(4);
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->ranges.size(), 2u);
  EXPECT_EQ(g->ranges[0].pfns, pfn_run(0x100, 30));
  EXPECT_EQ(g->ranges[1].byte_offset, 8u);
  EXPECT_EQ(g->ranges[1].pfns, pfn_run(0x900, 3));
  EXPECT_EQ(t.charged_bytes(), 33 * kPage);
}

// --- Header validation ---------------------------------------------------------------------------

struct HeaderCase {
  const char* name;
  std::vector<uint8_t> msg;
  const char* error_part;
};

TEST(VmbusGpadl, MalformedHeadersFailAndKeepNothing) {
  const std::vector<uint64_t> one_page = range_data({linux_range(0x50, 1)});
  std::vector<uint8_t> odd = header_msg(1, 2, 16, 1, one_page);
  odd.push_back(0);
  std::vector<uint8_t> too_big = header_msg(1, 2, 8 * 28, 1, range_data({linux_range(0x50, 27)}));
  const std::vector<HeaderCase> cases = {
      {"shorter than fixed part", std::vector<uint8_t>(19, 0), "GPADL_HEADER of 19 bytes is shorter"},
      {"over the message limit", too_big, "GPADL_HEADER of 244 bytes exceeds the 240-byte"},
      {"range data not qwords", odd, "range data of 17 bytes is not a multiple of 8"},
      {"rangecount 0", header_msg(1, 2, 16, 0, one_page), "rangecount is 0"},
      {"range_buflen unaligned", header_msg(1, 2, 17, 1, one_page), "range_buflen 17 is not a multiple of 8"},
      {"range_buflen too small for rangecount", header_msg(1, 2, 24, 2, {range_head(4096, 0), 0x50, 0x51}),
       "range_buflen 24 cannot hold rangecount 2"},
      {"no range data", header_msg(1, 2, 16, 1, {}), "carries no range data"},
      {"more data than range_buflen", header_msg(1, 2, 16, 1, {range_head(4096, 0), 0x50, 0x51}),
       "carries 24 bytes of range data but range_buflen is 16"},
      {"byte_count 0", header_msg(1, 2, 16, 1, {range_head(0, 0), 0x50}), "range 0 (byte_offset 0, byte_count 0): "
                                                                           "byte_count is 0"},
      {"byte_offset 4096", header_msg(1, 2, 24, 1, {range_head(1, 4096), 0x50, 0x51}),
       "range 0 (byte_offset 4096, byte_count 1): byte_offset >= 4096"},
      {"range_buflen has a PFN too many", header_msg(1, 2, 32, 1, {range_head(8192, 0), 0x50, 0x51, 0x52}),
       "range_buflen 32 holds more data than the 1 range(s)"},
      {"range_buflen has a PFN too few", header_msg(1, 2, 24, 1, {range_head(8193, 0), 0x50, 0x51}),
       "range 0 (byte_offset 0, byte_count 8193) needs 3 PFNs but range_buflen 24 leaves 2 qwords"},
      {"offset pushes into an extra page", header_msg(1, 2, 16, 1, {range_head(4096, 8), 0x50}),
       "needs 2 PFNs but range_buflen 16 leaves 1 qwords"},
      {"first range leaves no room for the second",
       header_msg(1, 2, 40, 2, {range_head(8193, 0), 0x50, 0x51, range_head(4096, 0), 0x52}),
       "range 0 (byte_offset 0, byte_count 8193) needs 3 PFNs but range_buflen 40 leaves 4 qwords for them and 1 "
       "later range(s)"},
  };
  for (const HeaderCase& c : cases) {
    GpadlTable t(kBigCap);
    const auto o = header(t, c.msg);
    EXPECT_EQ(o.kind, Kind::kFailed) << c.name;
    EXPECT_TRUE(contains(o.error, c.error_part)) << c.name << ": " << o.error;
    EXPECT_EQ(t.charged_bytes(), 0u) << c.name;
    EXPECT_TRUE(t.handles_of(2).empty()) << c.name;
    EXPECT_EQ(t.find(1), nullptr) << c.name;
    // Nothing was kept: the same handle can be created afterwards.
    EXPECT_EQ(header(t, split(1, 2, {linux_range(0x50, 1)}).header).kind, Kind::kCreated) << c.name;
  }
}

TEST(VmbusGpadl, HeaderErrorNamesHandleAndChannel) {
  GpadlTable t(kBigCap);
  const auto o = header(t, header_msg(0xE1E10, 5, 16, 0, range_data({linux_range(1, 1)})));
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.handle, 0xE1E10u);
  EXPECT_EQ(o.relid, 5u);
  EXPECT_TRUE(contains(o.error, "gpadl 0xe1e10: ")) << o.error;
}

// --- Body validation -----------------------------------------------------------------------------

class VmbusGpadlBody : public ::testing::Test {
 protected:
  // A 40-page GPADL whose header (26 PFNs) has arrived: 14 PFNs still expected.
  void SetUp() override {
    msgs_ = split(kHandle, kRelid, {linux_range(0x400, 40)});
    ASSERT_EQ(header(table_, msgs_.header).kind, Kind::kIncomplete);
    ASSERT_EQ(table_.charged_bytes(), 40 * kPage);
  }
  // The failed body dropped the pending GPADL: its bytes are released and its handle is reusable.
  void expect_dropped() {
    EXPECT_EQ(table_.charged_bytes(), 0u);
    EXPECT_TRUE(table_.handles_of(kRelid).empty());
    EXPECT_EQ(send_all(table_, msgs_).kind, Kind::kCreated);
  }
  static constexpr uint32_t kHandle = 0x77;
  static constexpr uint32_t kRelid = 12;
  GpadlTable table_{kBigCap};
  Messages msgs_;
};

TEST_F(VmbusGpadlBody, ShorterThanFixedPart) {
  const std::vector<uint8_t> m(15, 0);
  const auto o = body(table_, m);
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(contains(o.error, "GPADL_BODY of 15 bytes is shorter than its 16-byte")) << o.error;
  EXPECT_EQ(table_.charged_bytes(), 40 * kPage) << "a body too short to name a handle drops nothing";
}

TEST_F(VmbusGpadlBody, OverMessageLimit) {
  const auto o = body(table_, body_msg(kHandle, pfn_run(0x500, 29)));
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.relid, kRelid);
  EXPECT_TRUE(contains(o.error, "GPADL_BODY of 248 bytes exceeds the 240-byte message limit")) << o.error;
  expect_dropped();
}

TEST_F(VmbusGpadlBody, DataNotQwords) {
  std::vector<uint8_t> m = body_msg(kHandle, pfn_run(0x500, 2));
  m.resize(m.size() - 3);
  const auto o = body(table_, m);
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(contains(o.error, "GPADL_BODY data of 13 bytes is not a multiple of 8")) << o.error;
  expect_dropped();
}

TEST_F(VmbusGpadlBody, Empty) {
  const auto o = body(table_, body_msg(kHandle, {}));
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(contains(o.error, "GPADL_BODY carries no PFNs")) << o.error;
  expect_dropped();
}

TEST_F(VmbusGpadlBody, MoreThanStillExpected) {
  const auto o = body(table_, body_msg(kHandle, pfn_run(0x500, 15)));
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.handle, kHandle);
  EXPECT_TRUE(contains(o.error, "GPADL_BODY carries 15 qwords but only 14 of range_buflen 328 are still expected"))
      << o.error;
  expect_dropped();
}

TEST_F(VmbusGpadlBody, UnknownHandle) {
  const auto o = body(table_, body_msg(kHandle + 1, pfn_run(0x500, 14)));
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.handle, kHandle + 1);
  EXPECT_EQ(o.relid, 0u);
  EXPECT_TRUE(contains(o.error, "gpadl 0x78: GPADL_BODY without a pending GPADL_HEADER")) << o.error;
  EXPECT_EQ(table_.charged_bytes(), 40 * kPage) << "the real pending GPADL is untouched";
  EXPECT_EQ(body(table_, msgs_.bodies[0]).kind, Kind::kCreated);
}

TEST_F(VmbusGpadlBody, ForAnAlreadyCreatedGpadl) {
  ASSERT_EQ(body(table_, msgs_.bodies[0]).kind, Kind::kCreated);
  const auto o = body(table_, msgs_.bodies[0]);
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(contains(o.error, "(the GPADL is already complete)")) << o.error;
  EXPECT_NE(table_.find(kHandle), nullptr) << "the created GPADL survives";
  EXPECT_EQ(table_.charged_bytes(), 40 * kPage);
}

TEST(VmbusGpadl, BadRangeHeaderInsideABodyDropsThePendingGpadl) {
  GpadlTable t(kBigCap);
  // Range 0 fills the header (26 PFNs); range 1's header arrives in the body with byte_offset 5000.
  const std::vector<uint64_t> q = range_data({linux_range(0x100, 26)});
  ASSERT_EQ(header(t, header_msg(3, 8, static_cast<uint16_t>((q.size() + 2) * 8), 2, q)).kind, Kind::kIncomplete);
  ASSERT_EQ(t.charged_bytes(), 27 * kPage);
  const auto o = body(t, body_msg(3, {range_head(10, 5000), 0x900}));
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.relid, 8u);
  EXPECT_TRUE(contains(o.error, "range 1 (byte_offset 5000, byte_count 10): byte_offset >= 4096")) << o.error;
  EXPECT_EQ(t.charged_bytes(), 0u);
  EXPECT_TRUE(t.handles_of(8).empty());
}

// --- Handles, teardown, cap ----------------------------------------------------------------------

TEST(VmbusGpadl, DuplicateHandleFailsWhetherCreatedOrPending) {
  GpadlTable t(kBigCap);
  ASSERT_EQ(send_all(t, split(5, 1, {linux_range(0x10, 2)})).kind, Kind::kCreated);
  auto o = header(t, split(5, 2, {linux_range(0x20, 1)}).header);
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(contains(o.error, "duplicate gpadl handle 0x5 (already created)")) << o.error;

  ASSERT_EQ(header(t, split(6, 1, {linux_range(0x30, 50)}).header).kind, Kind::kIncomplete);
  o = header(t, split(6, 1, {linux_range(0x40, 1)}).header);
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_TRUE(contains(o.error, "duplicate gpadl handle 0x6 (still pending)")) << o.error;

  EXPECT_EQ(t.charged_bytes(), 52 * kPage) << "the duplicates charged nothing";
  EXPECT_EQ(t.find(5)->pages(), pfn_run(0x10, 2)) << "the original survives";
}

TEST(VmbusGpadl, TeardownReleasesBytesOfCreatedAndPending) {
  GpadlTable t(kBigCap);
  ASSERT_EQ(send_all(t, split(1, 1, {linux_range(0x10, 3)})).kind, Kind::kCreated);
  ASSERT_EQ(header(t, split(2, 1, {linux_range(0x20, 60)}).header).kind, Kind::kIncomplete);
  EXPECT_EQ(t.charged_bytes(), 63 * kPage);

  EXPECT_TRUE(t.teardown(1));
  EXPECT_EQ(t.charged_bytes(), 60 * kPage);
  EXPECT_EQ(t.find(1), nullptr);
  EXPECT_EQ(t.created_count(), 0u);
  EXPECT_TRUE(t.teardown(2));
  EXPECT_EQ(t.charged_bytes(), 0u);
  EXPECT_FALSE(t.teardown(2));
  EXPECT_FALSE(t.teardown(99));
  // The torn-down pending GPADL no longer accepts bodies.
  EXPECT_EQ(body(t, body_msg(2, pfn_run(0x50, 28))).kind, Kind::kFailed);
}

TEST(VmbusGpadl, CapExactlyReachedIsAcceptedOnePageMoreFails) {
  GpadlTable t(10 * kPage);
  EXPECT_EQ(t.cap_bytes(), 10 * kPage);
  ASSERT_EQ(send_all(t, split(1, 1, {linux_range(0x10, 9)})).kind, Kind::kCreated);
  const auto over = header(t, split(2, 1, {linux_range(0x20, 2)}).header);
  EXPECT_EQ(over.kind, Kind::kFailed);
  EXPECT_TRUE(contains(over.error, "2 pages (8192 bytes) would bring the partition's GPADL total to 45056 bytes, "
                                   "over the cap of 40960"))
      << over.error;
  EXPECT_EQ(t.charged_bytes(), 9 * kPage);
  EXPECT_EQ(send_all(t, split(2, 1, {linux_range(0x20, 1)})).kind, Kind::kCreated);
  EXPECT_EQ(t.charged_bytes(), t.cap_bytes());
  // Teardown makes room again.
  EXPECT_TRUE(t.teardown(1));
  EXPECT_EQ(send_all(t, split(3, 1, {linux_range(0x30, 9)})).kind, Kind::kCreated);
}

TEST(VmbusGpadl, HeaderAnnouncingMoreThanTheCapFailsBeforeBodies) {
  GpadlTable t(30 * kPage);
  const Messages m = split(7, 4, {linux_range(0x100, 40)});
  const auto o = header(t, m.header);
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_EQ(o.relid, 4u);
  EXPECT_TRUE(contains(o.error, "40 pages")) << o.error;
  EXPECT_EQ(t.charged_bytes(), 0u);
  // Its bodies find nothing to extend.
  EXPECT_EQ(body(t, m.bodies[0]).kind, Kind::kFailed);
  EXPECT_EQ(t.charged_bytes(), 0u);
}

TEST(VmbusGpadl, PendingReservationCountsAgainstTheCap) {
  GpadlTable t(50 * kPage);
  const Messages big = split(1, 1, {linux_range(0x100, 40)});
  ASSERT_EQ(header(t, big.header).kind, Kind::kIncomplete);
  EXPECT_EQ(header(t, split(2, 1, {linux_range(0x900, 11)}).header).kind, Kind::kFailed);
  EXPECT_EQ(send_all(t, split(2, 1, {linux_range(0x900, 10)})).kind, Kind::kCreated);
  EXPECT_EQ(body(t, big.bodies[0]).kind, Kind::kCreated);
  EXPECT_EQ(t.charged_bytes(), 50 * kPage);
}

TEST(VmbusGpadl, HandlesOfListsCreatedAndPendingAscending) {
  GpadlTable t(kBigCap);
  ASSERT_EQ(send_all(t, split(30, 5, {linux_range(0x10, 1)})).kind, Kind::kCreated);
  ASSERT_EQ(header(t, split(10, 5, {linux_range(0x20, 40)}).header).kind, Kind::kIncomplete);
  ASSERT_EQ(send_all(t, split(20, 6, {linux_range(0x30, 1)})).kind, Kind::kCreated);
  ASSERT_EQ(send_all(t, split(5, 5, {linux_range(0x40, 1)})).kind, Kind::kCreated);
  EXPECT_EQ(t.handles_of(5), (std::vector<uint32_t>{5, 10, 30}));
  EXPECT_EQ(t.handles_of(6), (std::vector<uint32_t>{20}));
  EXPECT_TRUE(t.handles_of(7).empty());
}

TEST(VmbusGpadl, ClearForgetsEverything) {
  GpadlTable t(kBigCap);
  ASSERT_EQ(send_all(t, split(1, 1, {linux_range(0x10, 2)})).kind, Kind::kCreated);
  const Messages pending = split(2, 1, {linux_range(0x20, 40)});
  ASSERT_EQ(header(t, pending.header).kind, Kind::kIncomplete);
  t.clear();
  EXPECT_EQ(t.charged_bytes(), 0u);
  EXPECT_EQ(t.created_count(), 0u);
  EXPECT_EQ(t.find(1), nullptr);
  EXPECT_TRUE(t.handles_of(1).empty());
  EXPECT_EQ(body(t, pending.bodies[0]).kind, Kind::kFailed);
  EXPECT_FALSE(t.teardown(1));
  EXPECT_EQ(send_all(t, split(1, 1, {linux_range(0x10, 2)})).kind, Kind::kCreated) << "handles are reusable";
}

// --- GpadlView -----------------------------------------------------------------------------------

class VmbusGpadlView : public ::testing::Test {
 protected:
  VmbusGpadlView() : mem_(16 * kPage) {
    g_.handle = 1;
    g_.ranges = {{static_cast<uint32_t>(2 * kPage), 0, {7, 2}}, {static_cast<uint32_t>(2 * kPage), 0, {11, 4}}};
  }
  test::FlatMemory mem_;
  Gpadl g_;
};

TEST_F(VmbusGpadlView, WritesAndReadsAcrossNonContiguousPages) {
  GpadlView v(mem_, g_, 0, 4);
  ASSERT_TRUE(v.valid());
  EXPECT_EQ(v.size(), 4 * kPage);
  std::vector<uint8_t> data(8200);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
  ASSERT_TRUE(v.write(4090, data.data(), data.size()));
  // View offset 4090 is page 7 + 4090; 4096 is page 2; 8192 is page 11; 12288 is page 4.
  EXPECT_EQ(mem_.get<uint8_t>(7 * kPage + 4090), data[0]);
  EXPECT_EQ(mem_.get<uint8_t>(7 * kPage + 4095), data[5]);
  EXPECT_EQ(mem_.get<uint8_t>(2 * kPage), data[6]);
  EXPECT_EQ(mem_.get<uint8_t>(2 * kPage + 4095), data[6 + 4095]);
  EXPECT_EQ(mem_.get<uint8_t>(11 * kPage), data[6 + 4096]);
  EXPECT_EQ(mem_.get<uint8_t>(11 * kPage + 4095), data[8197]);
  EXPECT_EQ(mem_.get<uint8_t>(4 * kPage + 1), data[8199]);
  EXPECT_EQ(mem_.get<uint8_t>(4 * kPage + 2), 0) << "nothing written past the end of the access";
  EXPECT_EQ(mem_.get<uint8_t>(8 * kPage), 0) << "the page after 7 is not part of the view";
  EXPECT_EQ(mem_.get<uint8_t>(3 * kPage), 0);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(v.read(4090, back.data(), back.size()));
  EXPECT_EQ(back, data);
}

TEST_F(VmbusGpadlView, SubWindowStartsAtItsFirstPage) {
  GpadlView v(mem_, g_, 1, 2);  // pages 2, 11
  ASSERT_TRUE(v.valid());
  EXPECT_EQ(v.size(), 2 * kPage);
  const uint32_t x = 0xA1B2C3D4;
  ASSERT_TRUE(v.write(kPage - 2, &x, sizeof x));
  EXPECT_EQ(mem_.get<uint16_t>(2 * kPage + kPage - 2), 0xC3D4);
  EXPECT_EQ(mem_.get<uint16_t>(11 * kPage), 0xA1B2);
}

TEST_F(VmbusGpadlView, OutOfRangeAccessFailsWithoutTouchingMemory) {
  GpadlView v(mem_, g_, 1, 2);
  uint8_t buf[16] = {1, 2, 3};
  EXPECT_FALSE(v.write(2 * kPage - 8, buf, 9));
  EXPECT_FALSE(v.read(2 * kPage - 8, buf, 9));
  EXPECT_FALSE(v.write(2 * kPage + 1, buf, 0));
  EXPECT_FALSE(v.read(UINT64_MAX, buf, 1));
  EXPECT_FALSE(v.write(8, buf, SIZE_MAX));
  EXPECT_TRUE(v.read(2 * kPage, buf, 0)) << "an empty access at the end is in range";
  EXPECT_EQ(mem_.get<uint64_t>(11 * kPage + kPage - 8), 0u) << "a rejected write must not write a prefix";
}

TEST_F(VmbusGpadlView, PagesBeyondTheGpadlMakeAnInvalidView) {
  GpadlView past(mem_, g_, 3, 2);
  EXPECT_FALSE(past.valid());
  uint8_t b = 0;
  EXPECT_FALSE(past.read(0, &b, 1));
  EXPECT_FALSE(GpadlView(mem_, g_, 0xFFFFFFFF, 2).valid()) << "first_page + page_count must not wrap";
  EXPECT_TRUE(GpadlView(mem_, g_, 4, 0).valid());
}

TEST_F(VmbusGpadlView, GpaOutsideRamFails) {
  GpadlView v(mem_, std::vector<uint64_t>{3, 100});
  ASSERT_TRUE(v.valid());
  uint8_t b = 0x5A;
  EXPECT_TRUE(v.write(10, &b, 1));
  EXPECT_FALSE(v.write(kPage + 10, &b, 1));
  EXPECT_FALSE(v.read(kPage, &b, 1));
  EXPECT_FALSE(GpadlView(mem_, std::vector<uint64_t>{1ull << 60}).valid()) << "a PFN with no 64-bit GPA";
}

}  // namespace
}  // namespace hvsim::vmbus
