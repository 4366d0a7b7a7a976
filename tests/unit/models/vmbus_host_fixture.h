// The VmbusHost test fixture shared by the vmbus_host*_test.cc files: a recording platform (posted
// messages, SIEF signals, suspensions, a SynIC slot for rewrite_message), a recording device, flat
// guest memory with one 8-page ring GPADL, and helpers that play the guest (control messages, the
// guest side of the guest->host ring).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "models/hv/host_profile.h"
#include "models/vmbus/vmbus_host.h"
#include "tests/support/flat_memory.h"

namespace hvsim::vmbus {


struct Posted {
  VpIndex vp;
  unsigned sint;
  std::vector<uint8_t> msg;
  uint32_t type() const {
    uint32_t t = 0;
    std::memcpy(&t, msg.data(), 4);
    return t;
  }
  template <typename T> T as() const {
    T v{};
    std::memcpy(&v, msg.data(), std::min(sizeof v, msg.size()));
    return v;
  }
};

class RecordingPlatform final : public VmbusPlatform {
 public:
  MessageDelivery post_message(VpIndex vp, unsigned sint, std::span<const uint8_t> msg, VirtualTime) override {
    if (busy) return MessageDelivery::kBusy;
    posted.push_back(Posted{vp, sint, {msg.begin(), msg.end()}});
    return MessageDelivery::kAccepted;
  }
  void signal_event(VpIndex vp, unsigned sint, uint32_t flag, VirtualTime) override {
    signals.push_back({vp, flag});
    EXPECT_EQ(sint, kVmbusSint);
  }
  uint64_t reference_time(VirtualTime now) override { return reference_time_at(now); }
  // The SynIC slot of (vp, sint) holds the last message posted there until the test frees it.
  bool rewrite_message(VpIndex vp, unsigned sint, std::span<const uint8_t> expected, size_t offset,
                       std::span<const uint8_t> bytes, VirtualTime) override {
    for (auto it = posted.rbegin(); it != posted.rend(); ++it) {
      if (it->vp != vp || it->sint != sint) continue;
      if (!slot_held || !std::equal(expected.begin(), expected.end(), it->msg.begin(), it->msg.end())) return false;
      std::copy(bytes.begin(), bytes.end(), it->msg.begin() + static_cast<std::ptrdiff_t>(offset));
      return true;
    }
    return false;
  }
  void suspend_vp(VpIndex vp, VirtualTime until) override { suspended.push_back({vp, until}); }
  uint32_t vp_count() const override { return 4; }

  std::vector<Posted> posted;
  std::vector<std::pair<VpIndex, uint32_t>> signals;
  std::vector<std::pair<VpIndex, VirtualTime>> suspended;
  bool busy = false;
  bool slot_held = true;  // the guest has not freed the last message's slot
};

class RecordingDevice final : public VmbusDevice {
 public:
  explicit RecordingDevice(std::string name) {
    desc_.name = std::move(name);
    desc_.class_id = guid(kTestClass);
    desc_.instance_id.bytes[0] = static_cast<uint8_t>(desc_.name.size());
    desc_.instance_id.bytes[1] = static_cast<uint8_t>(desc_.name[0]);
  }
  const DeviceDesc& desc() const override { return desc_; }
  void opened(ChannelIo& io, VirtualTime) override { io_ = &io; ++opens; }
  void closed(VirtualTime) override { io_ = nullptr; ++closes; }
  void packet(const RingPacket& p, VirtualTime) override {
    auto pl = p.payload();
    packets.emplace_back(pl.begin(), pl.end());
  }
  std::optional<VirtualTime> poll(VirtualTime) override { return std::nullopt; }
  void sub_channel_opened(ChannelIo& io, VirtualTime) override { sub_opens.push_back(io.sub_channel_index()); }
  void sub_channel_closed(ChannelIo& io, VirtualTime) override { sub_closes.push_back(io.sub_channel_index()); }
  void sub_channel_packet(ChannelIo& io, const RingPacket&, VirtualTime) override { sub_packets.push_back(io.sub_channel_index()); }
  ChannelIo* io() { return io_; }
  std::vector<uint16_t> sub_opens, sub_closes, sub_packets;

  DeviceDesc desc_;
  int opens = 0, closes = 0;
  std::vector<std::vector<uint8_t>> packets;

 private:
  ChannelIo* io_ = nullptr;
};

constexpr VirtualTime kLatency = VirtualTime::from_us(5);
constexpr uint64_t kRingGpa = 0x10000;  // 8 pages: guest->host ring pages 0-3, host->guest 4-7
constexpr uint64_t kInterruptPageGpa = 0x8000;  // named in INITIATE_CONTACT below 5.0 (used below 2.4)

class VmbusHostTest : public ::testing::Test {
 protected:
  void make(const char* profile = "ws2022", uint64_t seed = 1, std::vector<std::string> names = {"a", "b", "c"}) {
    VmbusHostParams p;
    const hv::HostProfile& h = hv::host_profile(profile);
    p.versions.assign(h.vmbus_versions.begin(), h.vmbus_versions.end());
    p.gpadl_cap_bytes = h.gpadl_aggregate_cap_bytes;
    p.features = h.vmbus_features;
    p.seed = seed;
    p.latency = kLatency;
    p.throttle.threshold = 4;
    host_ = std::make_unique<VmbusHost>(p, mem_, platform_, tracer_);
    for (uint64_t a = kRingGpa; a < kRingGpa + 8 * 4096; a += 8) mem_.put<uint64_t>(a, 0);
    devices_.clear();
    for (const std::string& n : names) {
      auto d = std::make_unique<RecordingDevice>(n);
      devices_.push_back(d.get());
      host_->add_device(std::move(d));
    }
  }
  // Posts a guest message and lets the host handle it.
  void post(std::span<const uint8_t> m, uint32_t conn = kMessageConnectionId, VpIndex vp = 0) {
    ASSERT_EQ(host_->post_message(vp, conn, m, now_), VmbusHost::kHvStatusSuccess);
    now_ += kLatency;
    host_->poll(now_);
  }
  template <typename T> void post_msg(const T& m, uint32_t conn = kMessageConnectionId) {
    post(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&m), sizeof m), conn);
  }
  template <typename T> static T msg(MsgType t) {
    T m{};
    std::memcpy(&m, &t, 4);
    return m;
  }
  void connect(uint32_t version = kVersionWin10V53, uint32_t target = 1) {
    InitiateContact ic = msg<InitiateContact>(MsgType::kInitiateContact);
    ic.vmbus_version_requested = version;
    ic.target_vcpu = target;
    ic.interrupt_page_or_sint = version >= kVersionWin10V5 ? kVmbusSint : kInterruptPageGpa;
    post_msg(ic, version >= kVersionWin10V5 ? kMessageConnectionIdV5 : kMessageConnectionId);
  }
  std::vector<Posted> take() { return std::exchange(platform_.posted, {}); }
  // Connects, requests offers, creates an 8-page ring GPADL and opens relid `relid` on `vp`.
  void open_channel(uint32_t relid, VpIndex vp = 0, uint32_t gpadl = 0xE1E10) {
    OpenChannel o = msg<OpenChannel>(MsgType::kOpenChannel);
    create_gpadl(gpadl, relid, kRingGpa / 4096, 8);
    o.child_relid = relid;
    o.openid = relid;
    o.ringbuffer_gpadlhandle = gpadl;
    o.target_vp = vp;
    o.downstream_ringbuffer_pageoffset = 4;
    post_msg(o);
  }
  void create_gpadl(uint32_t handle, uint32_t relid, uint64_t first_pfn, uint16_t pages) {
    ASSERT_LE(pages, kGpadlHeaderPfns);
    post_gpadl_header(handle, relid, first_pfn, pages, pages);
  }
  // A GPADL_HEADER announcing one range of `pages` pages from `first_pfn` and carrying the first
  // `carried` of their PFNs (fewer than `pages`: the GPADL waits for bodies).
  void post_gpadl_header(uint32_t handle, uint32_t relid, uint64_t first_pfn, uint16_t pages, uint16_t carried) {
    std::vector<uint8_t> m(sizeof(GpadlHeader) + 8 + 8 * size_t{carried});
    GpadlHeader h = msg<GpadlHeader>(MsgType::kGpadlHeader);
    h.child_relid = relid;
    h.gpadl = handle;
    h.range_buflen = static_cast<uint16_t>(8 + 8 * pages);
    h.rangecount = 1;
    std::memcpy(m.data(), &h, sizeof h);
    GpadlRangeHeader r{pages * 4096u, 0};
    std::memcpy(m.data() + sizeof h, &r, sizeof r);
    for (uint16_t i = 0; i < carried; ++i) {
      uint64_t pfn = first_pfn + i;
      std::memcpy(m.data() + sizeof h + 8 + 8 * i, &pfn, 8);
    }
    post(m);
  }
  // Guest side of the guest->host ring (pages 0-3 of the ring GPADL): one inband packet.
  void guest_write(std::span<const uint8_t> payload, uint64_t trans_id = 7) {
    const uint32_t size = 3 * 4096;
    uint32_t w = mem_.get<uint32_t>(kRingGpa);
    uint32_t len8 = static_cast<uint32_t>(2 + (payload.size() + 7) / 8);
    ASSERT_LE(payload.size(), 200u);
    uint8_t pkt[232] = {};
    const size_t total = len8 * 8 + 8;
    PacketDescriptor d{kPktDataInband, 2, static_cast<uint16_t>(len8), 0, trans_id};
    std::memcpy(pkt, &d, sizeof d);
    std::memcpy(pkt + 16, payload.data(), payload.size());
    uint64_t trailer = static_cast<uint64_t>(w) << 32;
    std::memcpy(pkt + len8 * 8, &trailer, 8);
    for (size_t i = 0; i < total; ++i) mem_.put<uint8_t>(kRingGpa + 4096 + (w + i) % size, pkt[i]);
    mem_.put<uint32_t>(kRingGpa, static_cast<uint32_t>((w + total) % size));
  }
  uint16_t signal(uint32_t relid, VpIndex vp = 0) {
    return host_->signal_event(vp, kEventConnectionBase + relid, 0, now_);
  }
  void advance(VirtualTime d) {
    now_ += d;
    host_->poll(now_);
  }
  uint32_t relid_of(const std::string& name) {
    const Channel* c = host_->channel_of(name);
    return c ? c->relid() : 0;
  }
  size_t traced(std::string_view needle) const {
    size_t n = 0;
    for (const std::string& l : tracer_.captured()) n += l.find(needle) != std::string::npos;
    return n;
  }

  test::FlatMemory mem_{1 << 20};
  RecordingPlatform platform_;
  Tracer tracer_;
  std::unique_ptr<VmbusHost> host_;
  std::vector<RecordingDevice*> devices_;
  VirtualTime now_ = VirtualTime::from_us(100);

  void SetUp() override { tracer_.enable_capture(); }
};

}  // namespace hvsim::vmbus
