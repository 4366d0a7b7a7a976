// VmbusHost's per-device limits and the GPADLs of a released channel, with the recording fakes of
// vmbus_host_fixture.h: ring sizes outside a device's RingPageLimits refuse OPENCHANNEL (status
// 0xC0000001, an open_refused record, no protocol error); two devices with one instance GUID are
// a usage error; RELID_RELEASED drops the GPADLs the guest left on the channel, without a reply.
#include "models/vmbus/vmbus_host.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sim/core/status.h"
#include "tests/unit/models/vmbus_host_fixture.h"

namespace hvsim::vmbus {
namespace {

class VmbusHostLimitsTest : public VmbusHostTest {
 protected:
  // OPENCHANNEL of relid 1 over GPADL `gpadl` split at `split`; returns OPENCHANNEL_RESULT's status.
  uint32_t open(uint32_t gpadl, uint32_t split) {
    OpenChannel o = msg<OpenChannel>(MsgType::kOpenChannel);
    o.child_relid = 1;
    o.openid = 1;
    o.ringbuffer_gpadlhandle = gpadl;
    o.downstream_ringbuffer_pageoffset = split;
    post_msg(o);
    std::vector<Posted> out = take();
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? 0 : out[0].as<OpenChannelResult>().status;
  }
  // A GPADL_HEADER for relid `relid` announcing `pages` pages but carrying only the first
  // kGpadlHeaderPfns: the GPADL stays pending, its bytes reserved.
  void pending_gpadl(uint32_t handle, uint32_t relid, uint64_t first_pfn, uint16_t pages) {
    post_gpadl_header(handle, relid, first_pfn, pages, kGpadlHeaderPfns);
  }
};

TEST_F(VmbusHostLimitsTest, RingsOutsideTheDeviceLimitsAreRefusedAndTheGuestMayRetry) {
  make();
  devices_[0]->desc_.ring_pages = RingPageLimits{3, 4};
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  create_gpadl(0xE1E10, 1, kRingGpa / 4096, 8);
  take();
  EXPECT_EQ(open(0xE1E10, 2), kStatusUnsuccessful) << "guest->host ring of 2 pages is under the minimum";
  EXPECT_EQ(open(0xE1E10, 3), kStatusUnsuccessful) << "host->guest ring of 5 pages is over the maximum";
  EXPECT_EQ(traced("\"state\":\"open_refused\""), 2u);
  EXPECT_EQ(traced("\"guest_to_host_pages\":3,\"host_to_guest_pages\":5,\"min\":3,\"max\":4"), 1u);
  EXPECT_EQ(traced("vmbus.protocol_error"), 0u) << "a refused ring size breaks no protocol rule";
  EXPECT_EQ(devices_[0]->opens, 0);
  EXPECT_EQ(host_->channel(1)->state, ChannelState::kOffered);
  EXPECT_EQ(open(0xE1E10, 4), kStatusSuccess) << "4 + 4 pages are within the limits";
  EXPECT_EQ(devices_[0]->opens, 1);
}

TEST_F(VmbusHostLimitsTest, WithoutLimitsOnlyTheTwoPageMinimumApplies) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  create_gpadl(0xE1E10, 1, kRingGpa / 4096, 8);
  take();
  EXPECT_EQ(open(0xE1E10, 1), kStatusUnsuccessful);
  EXPECT_EQ(traced("vmbus.protocol_error"), 1u) << "a ring under 2 pages stays a protocol error";
  EXPECT_EQ(open(0xE1E10, 6), kStatusSuccess);
  EXPECT_EQ(traced("open_refused"), 0u);
}

TEST_F(VmbusHostLimitsTest, TwoDevicesWithOneInstanceGuidAreAUsageError) {
  make();
  auto twin = std::make_unique<RecordingDevice>("twin");
  twin->desc_.instance_id = devices_[1]->desc().instance_id;
  EXPECT_THROW(host_->add_device(std::move(twin)), UsageError);
  EXPECT_EQ(host_->device_names().size(), 3u);
}

TEST_F(VmbusHostLimitsTest, ReleaseDropsTheGpadlsTheGuestLeftOnTheChannel) {
  make();
  connect();
  post_msg(msg<MsgHeader>(MsgType::kRequestOffers));
  open_channel(2);                                   // ring GPADL 0xE1E10 for relid 2, 8 pages
  create_gpadl(0xE1E11, 2, 0x40, 4);                 // another created GPADL of relid 2
  pending_gpadl(0xE1E12, 2, 0x60, 30);               // relid 2, still waiting for its body
  create_gpadl(0xE1E13, 1, 0x90, 2);                 // relid 1's: stays
  take();
  ASSERT_EQ(host_->gpadls().charged_bytes(), (8 + 4 + 30 + 2) * 4096u);
  ASSERT_TRUE(host_->rescind("b", now_));
  take();
  RelidReleased rr = msg<RelidReleased>(MsgType::kRelidReleased);
  rr.child_relid = 2;
  post_msg(rr);
  EXPECT_TRUE(take().empty()) << "no GPADL_TORNDOWN and no error for the dropped GPADLs";
  EXPECT_EQ(host_->gpadls().find(0xE1E10), nullptr);
  EXPECT_EQ(host_->gpadls().find(0xE1E11), nullptr);
  EXPECT_NE(host_->gpadls().find(0xE1E13), nullptr);
  EXPECT_EQ(host_->gpadls().charged_bytes(), 2 * 4096u) << "only relid 1's GPADL is still charged";
  EXPECT_EQ(traced("\"relid\":2,\"result\":\"released\""), 3u);
  EXPECT_EQ(traced("vmbus.protocol_error"), 0u);
  // The pending GPADL is gone too: its body now matches nothing.
  GpadlBody b = msg<GpadlBody>(MsgType::kGpadlBody);
  b.gpadl = 0xE1E12;
  post_msg(b);
  EXPECT_EQ(traced("GPADL_BODY for no pending GPADL"), 1u);
  // The released pages are no longer described: a new GPADL over them is no overlap.
  create_gpadl(0xE1E14, 1, kRingGpa / 4096, 8);
  EXPECT_EQ(take().at(0).as<GpadlCreated>().creation_status, kStatusSuccess);
  EXPECT_EQ(traced("gpadl_overlap"), 0u);
}

}  // namespace
}  // namespace hvsim::vmbus
