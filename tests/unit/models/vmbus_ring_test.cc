// Tests for models/vmbus/ring.cc (HostRing) over a flat guest memory.
//
// The guest side of each ring (producer of the guest->host ring, consumer of the host->guest
// ring) is written here independently from PROTOCOL.md §6: descriptor, payload, zero padding,
// trailer, index arithmetic. Seeded random sequences check HostRing against that reference,
// including packets straddling the end of the data area. Every test runs the host through a
// memory wrapper that counts accesses outside the ring's pages, and checks that guard bytes
// filling the rest of guest memory are untouched.
#include "models/vmbus/ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "models/vmbus/gpadl.h"
#include "models/vmbus/protocol.h"
#include "sim/core/rng.h"
#include "tests/support/flat_memory.h"

namespace hvsim::vmbus {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMemPages = 16;
constexpr uint8_t kGuard = 0xA5;
// Control-page offsets as the guest sees them (§6.1).
constexpr size_t kWriteIdx = 0, kReadIdx = 4, kMask = 8, kPending = 12, kFeatures = 64;

// --- Reference index arithmetic (§6.1), independent of ring.cc -----------------------------------
uint32_t ref_bytes_to_read(uint32_t w, uint32_t r, uint32_t size) { return (w + size - r) % size; }
uint32_t ref_bytes_to_write(uint32_t w, uint32_t r, uint32_t size) { return size - ref_bytes_to_read(w, r, size); }
uint32_t packet_total(size_t payload_len) { return static_cast<uint32_t>((16 + payload_len + 7) / 8 * 8 + 8); }

// Counts host accesses that leave the ring's pages (GpadlView accesses never span pages).
class RecordingMemory final : public PhysicalMemory {
 public:
  RecordingMemory(PhysicalMemory& inner, std::vector<uint64_t> allowed) : inner_(inner), allowed_(allowed) {}
  bool read(uint64_t gpa, void* dst, size_t len) override {
    note(gpa, len);
    return inner_.read(gpa, dst, len);
  }
  bool write(uint64_t gpa, const void* src, size_t len) override {
    note(gpa, len);
    return inner_.write(gpa, src, len);
  }
  size_t stray = 0;

 private:
  void note(uint64_t gpa, size_t len) {
    if (len == 0) return;
    const uint64_t first = gpa / kPage, last = (gpa + len - 1) / kPage;
    if (first != last || std::find(allowed_.begin(), allowed_.end(), first) == allowed_.end()) ++stray;
  }
  PhysicalMemory& inner_;
  std::vector<uint64_t> allowed_;
};

// Guest memory with one ring in `pages` (control page first); everything else is guard bytes.
struct RingWorld {
  explicit RingWorld(std::vector<uint64_t> ring_pages)
      : pages(std::move(ring_pages)), mem(kMemPages * kPage), rec(mem, pages) {
    const std::vector<uint8_t> guard(kMemPages * kPage, kGuard);
    EXPECT_TRUE(mem.write(0, guard.data(), guard.size()));
    const std::vector<uint8_t> zero(kPage, 0);
    for (uint64_t p : pages) {
      if (p < kMemPages) {
        EXPECT_TRUE(mem.write(p * kPage, zero.data(), zero.size()));
      }
    }
  }
  HostRing make_ring() { return HostRing(GpadlView(rec, pages)); }
  uint32_t size() const { return static_cast<uint32_t>((pages.size() - 1) * kPage); }

  uint64_t gpa(uint64_t ring_offset) const { return pages[ring_offset / kPage] * kPage + ring_offset % kPage; }
  uint32_t ctl(size_t off) const { return mem.get<uint32_t>(gpa(off)); }
  void set_ctl(size_t off, uint32_t v) { mem.put(gpa(off), v); }
  // Byte-wise, wrapping at the data size: the guest's view of the data area.
  void data_put(uint32_t off, const std::vector<uint8_t>& bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) mem.put<uint8_t>(gpa(kPage + (off + i) % size()), bytes[i]);
  }
  std::vector<uint8_t> data_get(uint32_t off, size_t n) const {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = mem.get<uint8_t>(gpa(kPage + (off + i) % size()));
    return out;
  }
  std::vector<uint8_t> control_page() const {
    std::vector<uint8_t> out(kPage);
    for (size_t i = 0; i < kPage; ++i) out[i] = mem.get<uint8_t>(gpa(i));
    return out;
  }
  bool guards_intact() const {
    for (uint64_t p = 0; p < kMemPages; ++p) {
      if (std::find(pages.begin(), pages.end(), p) != pages.end()) continue;
      for (uint64_t i = 0; i < kPage; ++i) {
        if (mem.get<uint8_t>(p * kPage + i) != kGuard) return false;
      }
    }
    return true;
  }

  std::vector<uint64_t> pages;
  test::FlatMemory mem;
  RecordingMemory rec;
};

void expect_contained(const RingWorld& w) {
  EXPECT_EQ(w.rec.stray, 0u) << "host accessed memory outside the ring's pages";
  EXPECT_TRUE(w.guards_intact()) << "guard bytes outside the ring changed";
}

struct GuestPacket {
  uint16_t type = kPktDataInband;
  uint16_t flags = 0;
  uint64_t trans_id = 0;
  std::vector<uint8_t> payload;
};

std::vector<uint8_t> encode_descriptor(uint16_t type, uint16_t offset8, uint16_t len8, uint16_t flags, uint64_t tid) {
  std::vector<uint8_t> d(16);
  std::memcpy(&d[0], &type, 2);
  std::memcpy(&d[2], &offset8, 2);
  std::memcpy(&d[4], &len8, 2);
  std::memcpy(&d[6], &flags, 2);
  std::memcpy(&d[8], &tid, 8);
  return d;
}

// The guest as producer (§6.3). Returns the bytes used (packet + trailer), 0 if the ring is full;
// `signal` is the guest's own decision to signal the host.
uint32_t guest_send(RingWorld& w, const GuestPacket& p, bool* signal = nullptr) {
  const uint32_t total = packet_total(p.payload.size());
  const uint32_t wi = w.ctl(kWriteIdx);
  if (ref_bytes_to_write(wi, w.ctl(kReadIdx), w.size()) <= total) return 0;
  const auto len8 = static_cast<uint16_t>((total - 8) / 8);
  std::vector<uint8_t> bytes = encode_descriptor(p.type, 2, len8, p.flags, p.trans_id);
  bytes.insert(bytes.end(), p.payload.begin(), p.payload.end());
  bytes.resize(total - 8, 0);
  const uint64_t trailer = uint64_t{wi} << 32;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(trailer >> (8 * i)));
  w.data_put(wi, bytes);
  w.set_ctl(kWriteIdx, (wi + total) % w.size());
  if (signal) *signal = w.ctl(kMask) == 0 && w.ctl(kReadIdx) == wi;
  return total;
}

// The guest as consumer (§6.4) at its private position `pos`; false when nothing is published.
// Checks the framing the host must produce: offset8 2, zero padding, trailer = start << 32.
bool guest_receive(RingWorld& w, uint32_t& pos, const GuestPacket& expected) {
  if (pos == w.ctl(kWriteIdx)) return false;
  const std::vector<uint8_t> head = w.data_get(pos, 16);
  uint16_t type, offset8, len8, flags;
  uint64_t tid;
  std::memcpy(&type, &head[0], 2);
  std::memcpy(&offset8, &head[2], 2);
  std::memcpy(&len8, &head[4], 2);
  std::memcpy(&flags, &head[6], 2);
  std::memcpy(&tid, &head[8], 8);
  EXPECT_EQ(type, expected.type);
  EXPECT_EQ(flags, expected.flags);
  EXPECT_EQ(tid, expected.trans_id);
  EXPECT_EQ(offset8, 2);
  EXPECT_EQ(len8 * 8u + 8, packet_total(expected.payload.size()));
  const std::vector<uint8_t> all = w.data_get(pos, len8 * 8u + 8);
  const std::vector<uint8_t> payload(all.begin() + 16, all.begin() + 16 + expected.payload.size());
  EXPECT_EQ(payload, expected.payload);
  for (size_t i = 16 + expected.payload.size(); i < len8 * 8u; ++i) EXPECT_EQ(all[i], 0) << "padding byte " << i;
  uint64_t trailer;
  std::memcpy(&trailer, &all[len8 * 8u], 8);
  EXPECT_EQ(trailer, uint64_t{pos} << 32);
  pos = (pos + len8 * 8u + 8) % w.size();
  return true;
}

GuestPacket random_packet(RngStream& rng) {
  GuestPacket p;
  p.type = static_cast<uint16_t>(rng.between(kPktDataInband, kPktComp));
  p.flags = static_cast<uint16_t>(rng.below(2));
  p.trans_id = rng.next_u64();
  p.payload.resize(rng.chance(1, 3) ? rng.below(2000) : rng.below(80));
  for (auto& b : p.payload) b = static_cast<uint8_t>(rng.next_u64());
  return p;
}

void expect_host_packet(const RingPacket& got, const GuestPacket& want, uint32_t offset) {
  EXPECT_EQ(got.offset, offset);
  EXPECT_EQ(got.desc.type, want.type);
  EXPECT_EQ(got.desc.flags, want.flags);
  EXPECT_EQ(got.desc.trans_id, want.trans_id);
  EXPECT_EQ(got.desc.offset8, 2);
  EXPECT_EQ(got.bytes.size(), packet_total(want.payload.size()) - 8u);
  const std::span<const uint8_t> payload = got.payload();
  ASSERT_EQ(payload.size(), got.bytes.size() - 16);
  EXPECT_TRUE(std::equal(want.payload.begin(), want.payload.end(), payload.begin()));
}

bool producer_heavy(int step) { return step / 250 % 2 == 0; }

const std::vector<uint64_t> kRingPages = {9, 3, 12};  // control page, then two data pages: 8192 bytes

// --- Seeded random sequences against the reference -----------------------------------------------

TEST(VmbusRing, RandomGuestToHostMatchesReference) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ASSERT_TRUE(ring.valid());
  ASSERT_EQ(ring.data_size(), 8192u);
  const uint32_t size = w.size();
  w.set_ctl(kFeatures, kRingFeatPendingSendSz);  // the guest producer declares the feature
  RngStream rng(0x5EED, "vmbus_ring_test/guest_to_host");
  struct Sent {
    GuestPacket p;
    uint32_t at;
  };
  std::deque<Sent> queue;
  uint32_t host_pos = 0;
  int straddled = 0, full = 0, signals = 0, packets = 0;
  for (int step = 0; step < 4000; ++step) {
    // Alternate producer-heavy and consumer-heavy phases: full rings, then drained ones.
    if (rng.chance(producer_heavy(step) ? 5 : 1, 6)) {
      const GuestPacket p = random_packet(rng);
      const uint32_t at = w.ctl(kWriteIdx);
      const uint32_t total = guest_send(w, p);
      if (total == 0) {
        ++full;
        w.set_ctl(kPending, packet_total(p.payload.size()));  // the guest blocks until this fits
        continue;
      }
      if (at + total > size) ++straddled;
      queue.push_back({p, at});
      continue;
    }
    ring.set_interrupt_mask(true);
    EXPECT_EQ(w.ctl(kMask), 1u);
    uint32_t consumed = 0;
    for (uint64_t i = rng.between(1, 6); i > 0; --i) {
      ASSERT_EQ(ring.bytes_to_read(), ref_bytes_to_read(w.ctl(kWriteIdx), host_pos, size));
      RingPacket pkt;
      std::string why;
      const HostRing::ReadStatus st = ring.read_packet(pkt, why);
      if (queue.empty()) {
        ASSERT_EQ(st, HostRing::ReadStatus::kEmpty) << why;
        break;
      }
      ASSERT_EQ(st, HostRing::ReadStatus::kPacket) << why;
      expect_host_packet(pkt, queue.front().p, queue.front().at);
      const uint32_t total = packet_total(queue.front().p.payload.size());
      host_pos = (host_pos + total) % size;
      consumed += total;
      queue.pop_front();
      ++packets;
    }
    EXPECT_EQ(w.ctl(kReadIdx), (host_pos + size - consumed) % size) << "read_index published before commit";
    const int64_t pending = w.ctl(kPending);
    const int64_t free_now = ref_bytes_to_write(w.ctl(kWriteIdx), host_pos, size);
    const bool expect_signal = consumed > 0 && pending != 0 && free_now > pending && free_now - consumed <= pending;
    ASSERT_EQ(ring.commit_read(), expect_signal) << "step " << step;
    EXPECT_EQ(w.ctl(kReadIdx), host_pos);
    if (expect_signal) {
      ++signals;
      w.set_ctl(kPending, 0);  // the woken guest retries
    }
    ring.set_interrupt_mask(false);
    EXPECT_EQ(w.ctl(kMask), 0u);
  }
  EXPECT_GT(packets, 500);
  EXPECT_GT(straddled, 20);
  EXPECT_GT(full, 20);
  EXPECT_GT(signals, 10);
  expect_contained(w);
}

TEST(VmbusRing, RandomHostToGuestMatchesReference) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ring.attach_as_producer();
  ASSERT_EQ(w.ctl(kFeatures), kRingFeatPendingSendSz);
  const uint32_t size = w.size();
  RngStream rng(0x5EED, "vmbus_ring_test/host_to_guest");
  struct Sent {
    GuestPacket p;
    uint32_t at;
  };
  std::deque<Sent> queue;
  uint32_t guest_pos = 0;
  int straddled = 0, full = 0, signals = 0, quiet = 0, masked = 0, space = 0, packets = 0;
  for (int step = 0; step < 4000; ++step) {
    const uint64_t action = rng.below(8);
    if (action < (producer_heavy(step) ? 6 : 2)) {
      const GuestPacket p = random_packet(rng);
      const uint32_t wi = w.ctl(kWriteIdx), ri = w.ctl(kReadIdx), mask = w.ctl(kMask);
      const uint32_t total = packet_total(p.payload.size());
      bool signal = true;
      std::string why;
      const HostRing::WriteStatus st = ring.write_packet(p.type, p.flags, p.trans_id, p.payload, signal, why);
      if (ref_bytes_to_write(wi, ri, size) <= total) {
        ASSERT_EQ(st, HostRing::WriteStatus::kFull) << why;
        EXPECT_FALSE(signal);
        EXPECT_EQ(w.ctl(kWriteIdx), wi);
        EXPECT_EQ(w.ctl(kPending), total);
        ++full;
        continue;
      }
      ASSERT_EQ(st, HostRing::WriteStatus::kWritten) << why;
      EXPECT_EQ(w.ctl(kWriteIdx), (wi + total) % size);
      EXPECT_EQ(signal, mask == 0 && ri == wi) << "step " << step;
      signals += signal;
      quiet += !signal && mask == 0;
      masked += mask != 0 && ri == wi;
      if (wi + total > size) ++straddled;
      queue.push_back({p, wi});
    } else if (action < 7) {  // the guest consumes
      for (uint64_t i = rng.between(1, 6); i > 0 && !queue.empty(); --i) {
        const uint32_t at = guest_pos;
        ASSERT_TRUE(guest_receive(w, guest_pos, queue.front().p));
        EXPECT_EQ(at, queue.front().at);
        queue.pop_front();
        ++packets;
      }
      w.set_ctl(kReadIdx, guest_pos);
      // The guest may signal spuriously; the host answers only a real transition past pending.
      const uint32_t pending = w.ctl(kPending);
      const bool fits = pending != 0 && ref_bytes_to_write(w.ctl(kWriteIdx), guest_pos, size) > pending;
      EXPECT_EQ(ring.space_became_available(), fits);
      EXPECT_EQ(w.ctl(kPending), fits ? 0u : pending);
      space += fits;
    } else {
      w.set_ctl(kMask, static_cast<uint32_t>(rng.below(2)));
    }
  }
  EXPECT_GT(packets, 500);
  EXPECT_GT(straddled, 20);
  EXPECT_GT(full, 20);
  EXPECT_GT(signals, 20);
  EXPECT_GT(quiet, 20);
  EXPECT_GT(masked, 5);
  EXPECT_GT(space, 10);
  expect_contained(w);
}

// --- Host as producer: signalling, full ring, pending_send_sz ------------------------------------

TEST(VmbusRing, WriteSignalsOnlyWhenTheRingWasEmptyAndUnmasked) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ring.attach_as_producer();
  const std::vector<uint8_t> payload = {1, 2, 3};
  bool signal = false;
  std::string why;
  ASSERT_EQ(ring.write_packet(kPktDataInband, 0, 1, payload, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_TRUE(signal) << "empty -> non-empty signals";
  ASSERT_EQ(ring.write_packet(kPktDataInband, 0, 2, payload, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_FALSE(signal) << "the guest has not caught up: no signal";

  uint32_t pos = 0;
  ASSERT_TRUE(guest_receive(w, pos, {kPktDataInband, 0, 1, payload}));
  w.set_ctl(kReadIdx, pos);
  ASSERT_EQ(ring.write_packet(kPktDataInband, 0, 3, payload, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_FALSE(signal) << "still one unread packet";

  ASSERT_TRUE(guest_receive(w, pos, {kPktDataInband, 0, 2, payload}));
  ASSERT_TRUE(guest_receive(w, pos, {kPktDataInband, 0, 3, payload}));
  w.set_ctl(kReadIdx, pos);
  w.set_ctl(kMask, 1);
  ASSERT_EQ(ring.write_packet(kPktDataInband, 0, 4, payload, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_FALSE(signal) << "interrupt_mask suppresses the signal";

  ASSERT_TRUE(guest_receive(w, pos, {kPktDataInband, 0, 4, payload}));
  w.set_ctl(kReadIdx, pos);
  w.set_ctl(kMask, 0);
  ASSERT_EQ(ring.write_packet(kPktDataInband, 0, 5, payload, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_TRUE(signal);
  expect_contained(w);
}

TEST(VmbusRing, PacketLayoutOnTheWire) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  const std::vector<uint8_t> payload = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE};
  bool signal = false;
  std::string why;
  ASSERT_EQ(ring.write_packet(kPktComp, kPacketFlagCompletionRequested, 0x1122334455667788, payload, signal, why),
            HostRing::WriteStatus::kWritten);
  // 16-byte descriptor + 5 bytes + 3 padding = 24 bytes (len8 3), then the 8-byte trailer.
  const std::vector<uint8_t> expected = {
      0x0B, 0, 2, 0, 3, 0, 1, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // descriptor
      0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0, 0, 0,                                        // payload + padding
      0, 0, 0, 0, 0, 0, 0, 0,                                                       // trailer: started at 0
  };
  EXPECT_EQ(w.data_get(0, expected.size()), expected);
  EXPECT_EQ(w.ctl(kWriteIdx), 32u);
  ASSERT_EQ(ring.write_raw(std::vector<uint8_t>{1, 2}, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_EQ(w.data_get(32, 16), (std::vector<uint8_t>{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0}))
      << "write_raw pads to 8 and appends the trailer (32 << 32)";
  EXPECT_EQ(w.ctl(kWriteIdx), 48u);
}

TEST(VmbusRing, FullRingSetsPendingSendSzAndSpaceFollowsTheStrictRule) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ring.attach_as_producer();
  const std::vector<uint8_t> payload(1000, 7);  // 1016-byte packet + trailer = 1024
  bool signal = false;
  std::string why;
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(ring.write_packet(kPktDataInband, 0, i, payload, signal, why), HostRing::WriteStatus::kWritten) << i;
  }
  // 1024 bytes free: a 1024-byte packet does not fit (free must be strictly greater).
  EXPECT_EQ(ring.write_packet(kPktDataInband, 0, 7, payload, signal, why), HostRing::WriteStatus::kFull);
  EXPECT_FALSE(signal);
  EXPECT_EQ(w.ctl(kPending), 1024u);
  EXPECT_EQ(w.ctl(kWriteIdx), 7 * 1024u);
  EXPECT_FALSE(ring.space_became_available()) << "1024 free is not more than pending 1024";

  // A smaller packet still fits while the host waits for space.
  const std::vector<uint8_t> small(8, 1);
  ASSERT_EQ(ring.write_packet(kPktDataInband, 0, 8, small, signal, why), HostRing::WriteStatus::kWritten);
  EXPECT_EQ(w.ctl(kPending), 1024u);

  // The guest frees one 1024-byte packet: 1024 + 992 free > 1024.
  w.set_ctl(kReadIdx, 1024);
  EXPECT_TRUE(ring.space_became_available());
  EXPECT_EQ(w.ctl(kPending), 0u);
  EXPECT_FALSE(ring.space_became_available()) << "already cleared";
  expect_contained(w);
}

TEST(VmbusRing, SpaceBecameAvailableExactlyEqualIsNotEnough) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  w.set_ctl(kPending, 4096);
  w.set_ctl(kWriteIdx, 4096);  // 4096 published, 4096 free
  EXPECT_FALSE(ring.space_became_available());
  EXPECT_EQ(w.ctl(kPending), 4096u);
  w.set_ctl(kReadIdx, 8);
  EXPECT_TRUE(ring.space_became_available());
  EXPECT_EQ(w.ctl(kPending), 0u);
}

TEST(VmbusRing, WithoutTheFeatureAFullRingLeavesPendingSendSzAlone) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();  // no attach_as_producer: feature not declared
  const std::vector<uint8_t> payload(1000, 7);
  bool signal = false;
  std::string why;
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(ring.write_packet(1, 0, i, payload, signal, why), HostRing::WriteStatus::kWritten);
  }
  EXPECT_EQ(ring.write_packet(1, 0, 7, payload, signal, why), HostRing::WriteStatus::kFull);
  EXPECT_EQ(w.ctl(kPending), 0u);
  EXPECT_EQ(w.ctl(kFeatures), 0u);
}

TEST(VmbusRing, LargestPacketFitsAnEmptyRingOneQwordMoreNever) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  bool signal = false;
  std::string why;
  // data size - 16 packet bytes + 8 trailer < data size.
  EXPECT_EQ(ring.write_raw(std::vector<uint8_t>(8192 - 16, 3), signal, why), HostRing::WriteStatus::kWritten) << why;
  EXPECT_TRUE(signal);
  EXPECT_EQ(w.ctl(kWriteIdx), 8192u - 8);
  w.set_ctl(kReadIdx, 8192 - 8);
  EXPECT_EQ(ring.write_raw(std::vector<uint8_t>(8192 - 8, 3), signal, why), HostRing::WriteStatus::kViolation);
  EXPECT_NE(why.find("can never fit the 8192-byte data area"), std::string::npos) << why;
  EXPECT_EQ(w.ctl(kPending), 0u) << "no pending_send_sz for a packet that can never fit";
  const std::vector<uint8_t> huge(600000, 0);
  EXPECT_EQ(ring.write_packet(1, 0, 0, huge, signal, why), HostRing::WriteStatus::kViolation);
  EXPECT_NE(why.find("len8"), std::string::npos) << why;
  expect_contained(w);
}

// --- Host as consumer: pending_send_sz transition --------------------------------------------------

class VmbusRingConsumer : public ::testing::Test {
 protected:
  // The guest fills the ring with seven 1024-byte packets (1024 bytes left) and blocks needing 2048.
  void fill(uint32_t guest_features) {
    w_.set_ctl(kFeatures, guest_features);
    for (uint64_t i = 0; i < 7; ++i) ASSERT_EQ(guest_send(w_, {1, 0, i, std::vector<uint8_t>(1000, 9)}), 1024u);
    ASSERT_EQ(guest_send(w_, {1, 0, 7, std::vector<uint8_t>(1000, 9)}), 0u);
    w_.set_ctl(kPending, 2048);
  }
  bool consume_one_and_commit() {
    RingPacket p;
    std::string why;
    EXPECT_EQ(ring_.read_packet(p, why), HostRing::ReadStatus::kPacket) << why;
    return ring_.commit_read();
  }
  RingWorld w_{kRingPages};
  HostRing ring_ = w_.make_ring();
};

TEST_F(VmbusRingConsumer, SignalsOnlyWhenFreeSpaceCrossesPending) {
  fill(kRingFeatPendingSendSz);
  EXPECT_FALSE(consume_one_and_commit()) << "2048 free == pending 2048 is not enough";
  EXPECT_TRUE(consume_one_and_commit()) << "3072 free, 2048 before: crossed";
  EXPECT_FALSE(consume_one_and_commit()) << "4096 free, 3072 before: the guest could already proceed";
  EXPECT_FALSE(ring_.commit_read()) << "nothing consumed since the last commit";
  expect_contained(w_);
}

TEST_F(VmbusRingConsumer, BatchCrossingPendingSignalsOnce) {
  fill(kRingFeatPendingSendSz);
  RingPacket p;
  std::string why;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(ring_.read_packet(p, why), HostRing::ReadStatus::kPacket);
  EXPECT_EQ(w_.ctl(kReadIdx), 0u) << "nothing published before commit";
  EXPECT_TRUE(ring_.commit_read());
  EXPECT_EQ(w_.ctl(kReadIdx), 3 * 1024u);
}

TEST_F(VmbusRingConsumer, NoSignalWithoutTheGuestsFeatureBit) {
  fill(0);
  EXPECT_FALSE(consume_one_and_commit());
  EXPECT_FALSE(consume_one_and_commit());
  EXPECT_EQ(w_.ctl(kReadIdx), 2 * 1024u) << "the commit still publishes read_index";
}

TEST_F(VmbusRingConsumer, NoSignalWhenPendingIsZero) {
  fill(kRingFeatPendingSendSz);
  w_.set_ctl(kPending, 0);
  EXPECT_FALSE(consume_one_and_commit());
  EXPECT_FALSE(consume_one_and_commit());
}

TEST_F(VmbusRingConsumer, EmptyRingReadsEmptyAndCountsNothing) {
  RingPacket p;
  std::string why;
  EXPECT_EQ(ring_.read_packet(p, why), HostRing::ReadStatus::kEmpty);
  EXPECT_EQ(ring_.bytes_to_read(), 0u);
  EXPECT_FALSE(ring_.commit_read());
  ASSERT_EQ(guest_send(w_, {kPktDataInband, 0, 5, {1, 2, 3, 4, 5, 6, 7, 8, 9}}), 40u);
  EXPECT_EQ(ring_.bytes_to_read(), 40u);
  ASSERT_EQ(ring_.read_packet(p, why), HostRing::ReadStatus::kPacket) << why;
  EXPECT_EQ(ring_.bytes_to_read(), 0u) << "counted from the private position";
  EXPECT_EQ(p.desc.trans_id, 5u);
  EXPECT_EQ(p.payload().size(), 16u);  // 9 bytes + 7 padding
  EXPECT_EQ(ring_.read_packet(p, why), HostRing::ReadStatus::kEmpty);
}

// --- Guest violations ----------------------------------------------------------------------------

struct ReadViolation {
  const char* name;
  uint32_t write_index;
  uint32_t read_index;
  std::vector<uint8_t> data;  // written at data offset 0
  const char* why_part;
};

TEST(VmbusRing, ReadViolationsAreReportedAndStayInsideTheRing) {
  const std::vector<ReadViolation> cases = {
      {"write_index past the end", 8192, 0, {}, "write_index 8192 is not below the data size 8192"},
      {"write_index far out", 0xFFFFFFF8, 0, {}, "write_index 4294967288 is not below the data size 8192"},
      {"write_index unaligned", 36, 0, {}, "write_index 36 is not a multiple of 8"},
      {"read_index past the end", 0, 9000, {}, "read_index 9000 is not below the data size 8192"},
      {"read_index unaligned", 0, 4, {}, "read_index 4 is not a multiple of 8"},
      {"less than a descriptor", 8, 0, {}, "packet at offset 0: only 8 bytes published"},
      {"offset8 below 2", 32, 0, encode_descriptor(1, 1, 3, 0, 0), "packet at offset 0: offset8 1 is below 2"},
      {"len8 below offset8", 32, 0, encode_descriptor(1, 4, 3, 0, 0), "packet at offset 0: len8 3 is below offset8 4"},
      {"overlong packet", 32, 0, encode_descriptor(1, 2, 4, 0, 0),
       "packet at offset 0: len8 4 (40 bytes with the trailer) exceeds the 32 bytes published"},
      {"len8 at its maximum", 32, 0, encode_descriptor(1, 2, 0xFFFF, 0, 0), "len8 65535 (524288 bytes"},
  };
  for (const ReadViolation& c : cases) {
    RingWorld w(kRingPages);
    HostRing ring = w.make_ring();
    w.data_put(0, c.data);
    w.set_ctl(kWriteIdx, c.write_index);
    w.set_ctl(kReadIdx, c.read_index);
    const std::vector<uint8_t> control = w.control_page();
    const std::vector<uint8_t> data = w.data_get(0, 8192);
    RingPacket p;
    std::string why;
    EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation) << c.name;
    EXPECT_NE(why.find(c.why_part), std::string::npos) << c.name << ": " << why;
    EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation) << c.name << ": the ring stays broken";
    EXPECT_FALSE(ring.commit_read()) << c.name;
    EXPECT_EQ(w.control_page(), control) << c.name << ": the host wrote the control page";
    EXPECT_EQ(w.data_get(0, 8192), data) << c.name;
    expect_contained(w);
  }
}

TEST(VmbusRing, ReadViolationOnAPacketStraddlingTheEnd) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  // Start at 8184: the descriptor straddles the wrap; len8 claims more than is published.
  w.set_ctl(kReadIdx, 8184);
  w.data_put(8184, encode_descriptor(1, 2, 100, 0, 0));
  w.set_ctl(kWriteIdx, 24);
  RingPacket p;
  std::string why;
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation);
  EXPECT_NE(why.find("packet at offset 8184: len8 100 (808 bytes with the trailer) exceeds the 32 bytes"),
            std::string::npos)
      << why;
  expect_contained(w);
}

TEST(VmbusRing, GuestMovingReadIndexOfTheGuestToHostRingIsAViolation) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ASSERT_EQ(guest_send(w, {1, 0, 1, std::vector<uint8_t>(24, 1)}), 48u);
  ASSERT_EQ(guest_send(w, {1, 0, 2, std::vector<uint8_t>(24, 2)}), 48u);
  RingPacket p;
  std::string why;
  ASSERT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kPacket);
  ring.commit_read();
  w.set_ctl(kReadIdx, 0);
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation);
  EXPECT_NE(why.find("guest wrote read_index of the guest->host ring: 0, host last committed 48"), std::string::npos)
      << why;
  EXPECT_EQ(ring.bytes_to_read(), 0u);
  w.set_ctl(kReadIdx, 48);
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kPacket) << "restored: " << why;
  EXPECT_EQ(p.desc.trans_id, 2u);
  expect_contained(w);
}

TEST(VmbusRing, GuestMovingReadIndexBeforeCommitIsAViolation) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ASSERT_EQ(guest_send(w, {1, 0, 1, {}}), 24u);
  ASSERT_EQ(guest_send(w, {1, 0, 2, {}}), 24u);
  RingPacket p;
  std::string why;
  ASSERT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kPacket);
  w.set_ctl(kReadIdx, 24);  // the guest "helps" by consuming for the host
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation);
  EXPECT_NE(why.find("read_index of the guest->host ring: 24, host last committed 0"), std::string::npos) << why;
}

TEST(VmbusRing, GuestMovingWriteIndexBackIsAViolation) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  ASSERT_EQ(guest_send(w, {1, 0, 1, {}}), 24u);
  RingPacket p;
  std::string why;
  ASSERT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kPacket);
  w.set_ctl(kWriteIdx, 0);  // withdraws the packet the host already read
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation);
  EXPECT_NE(why.find("write_index 0 moved back into the 24 bytes the host already consumed"), std::string::npos)
      << why;
  EXPECT_EQ(ring.bytes_to_read(), 0u);
}

TEST(VmbusRing, WriteViolationsLeaveTheRingUntouched) {
  struct Case {
    const char* name;
    uint32_t write_index, read_index;
    const char* why_part;
  };
  for (const Case& c : std::vector<Case>{
           {"write_index past the end", 8192, 0, "write_index 8192 is not below the data size 8192"},
           {"write_index unaligned", 8190, 0, "write_index 8190 is not a multiple of 8"},
           {"read_index past the end", 0, 1u << 31, "read_index 2147483648 is not below"},
           {"read_index unaligned", 16, 3, "read_index 3 is not a multiple of 8"},
       }) {
    RingWorld w(kRingPages);
    HostRing ring = w.make_ring();
    ring.attach_as_producer();
    w.set_ctl(kWriteIdx, c.write_index);
    w.set_ctl(kReadIdx, c.read_index);
    const std::vector<uint8_t> control = w.control_page();
    bool signal = true;
    std::string why;
    EXPECT_EQ(ring.write_packet(1, 0, 0, std::vector<uint8_t>(40, 1), signal, why), HostRing::WriteStatus::kViolation)
        << c.name;
    EXPECT_FALSE(signal);
    EXPECT_NE(why.find(c.why_part), std::string::npos) << c.name << ": " << why;
    EXPECT_FALSE(ring.space_became_available()) << c.name;
    EXPECT_EQ(w.control_page(), control) << c.name;
    EXPECT_EQ(w.data_get(0, 8192), std::vector<uint8_t>(8192, 0)) << c.name;
    expect_contained(w);
  }
}

// --- Unusable views ------------------------------------------------------------------------------

TEST(VmbusRing, ViewWithoutADataPageIsInvalidAndInert) {
  RingWorld w({9});
  HostRing ring = w.make_ring();
  EXPECT_FALSE(ring.valid());
  RingPacket p;
  std::string why;
  bool signal = true;
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation);
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(ring.write_packet(1, 0, 0, {}, signal, why), HostRing::WriteStatus::kViolation);
  EXPECT_FALSE(signal);
  EXPECT_EQ(ring.bytes_to_read(), 0u);
  EXPECT_FALSE(ring.commit_read());
  EXPECT_FALSE(ring.space_became_available());
  HostRing::Indices x;
  EXPECT_FALSE(ring.indices(x));
  ring.attach_as_producer();
  ring.set_interrupt_mask(true);
  EXPECT_EQ(w.control_page(), std::vector<uint8_t>(kPage, 0));
  expect_contained(w);
}

TEST(VmbusRing, DataPageOutsideRamFailsCleanly) {
  RingWorld w({9, 3, 200});  // the second data page is not guest RAM
  HostRing ring = w.make_ring();
  ASSERT_TRUE(ring.valid());
  bool signal = true;
  std::string why;
  // Reaches past 4096 into the missing page.
  w.set_ctl(kWriteIdx, 4088);
  w.set_ctl(kReadIdx, 4088);
  EXPECT_EQ(ring.write_packet(1, 0, 0, std::vector<uint8_t>(8, 1), signal, why), HostRing::WriteStatus::kViolation);
  EXPECT_NE(why.find("not writable"), std::string::npos) << why;
  EXPECT_EQ(w.ctl(kWriteIdx), 4088u) << "write_index not published";
  HostRing::Indices x;
  ASSERT_TRUE(ring.indices(x));
  EXPECT_EQ(x.write_index, 4088u);
  expect_contained(w);
}

TEST(VmbusRing, ReadFromAMissingDataPageIsAViolation) {
  RingWorld w({9, 200, 3});
  HostRing ring = w.make_ring();
  w.set_ctl(kWriteIdx, 24);
  RingPacket p;
  std::string why;
  EXPECT_EQ(ring.read_packet(p, why), HostRing::ReadStatus::kViolation);
  EXPECT_NE(why.find("not readable"), std::string::npos) << why;
  expect_contained(w);
}

TEST(VmbusRing, IndicesReportTheControlPage) {
  RingWorld w(kRingPages);
  HostRing ring = w.make_ring();
  w.set_ctl(kWriteIdx, 64);
  w.set_ctl(kReadIdx, 32);
  w.set_ctl(kMask, 1);
  w.set_ctl(kPending, 500);
  w.set_ctl(kFeatures, 3);
  HostRing::Indices x;
  ASSERT_TRUE(ring.indices(x));
  EXPECT_EQ(x.write_index, 64u);
  EXPECT_EQ(x.read_index, 32u);
  EXPECT_EQ(x.interrupt_mask, 1u);
  EXPECT_EQ(x.pending_send_sz, 500u);
  EXPECT_EQ(x.feature_bits, 3u);
  ring.attach_as_producer();
  EXPECT_EQ(w.ctl(kFeatures), 3u) << "other feature bits are preserved";
}

TEST(VmbusRing, PayloadOfAForgedPacketStaysInBounds) {
  RingPacket p;
  p.bytes.resize(24);
  p.desc.offset8 = 2;
  p.desc.len8 = 100;  // claims more than the bytes held
  EXPECT_EQ(p.payload().size(), 8u);
  p.desc.offset8 = 5;
  EXPECT_TRUE(p.payload().empty());
}

}  // namespace
}  // namespace hvsim::vmbus
