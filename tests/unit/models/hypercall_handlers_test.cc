// HypercallHandlers: the field checks and host effects of each call, driven directly with the
// HypercallArgs the dispatcher would build, against a recording HypercallTarget.
#include "models/hv/hypercall/handlers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <tuple>
#include <vector>

#include "tests/support/recording_hypercall_target.h"

namespace hvsim::hv {
namespace {

using RecordingTarget = test::RecordingHypercallTarget;

// Builds an input block field by field, and the args around it.
class Block {
 public:
  template <class T>
  Block& add(const T& v) {
    size_t at = bytes_.size();
    bytes_.resize(at + sizeof v);
    std::memcpy(bytes_.data() + at, &v, sizeof v);
    return *this;
  }
  HypercallArgs args(uint32_t var = 0, uint32_t reps = 0, uint32_t start = 0, uint32_t end = 0) {
    HypercallArgs a;
    a.vp = 2;
    a.var_header_qwords = var;
    a.rep_count = reps;
    a.rep_start = start;
    a.rep_end = end ? end : reps;
    a.input = bytes_;
    a.output = out;
    return a;
  }
  std::vector<uint8_t> out = std::vector<uint8_t>(4096);

 private:
  std::vector<uint8_t> bytes_;
};

class HypercallHandlersTest : public ::testing::Test {
 protected:
  uint16_t post(uint32_t conn, uint32_t type, uint32_t size, uint32_t reserved = 0) {
    HvPostMessageInput in{};
    in.connection_id = conn;
    in.reserved = reserved;
    in.message_type = type;
    in.payload_size = size;
    in.payload[239] = 0x77;
    Block b;
    b.add(in);
    return h.post_message(b.args()).status;
  }
  uint16_t ipi(uint32_t vector, uint8_t vtl, uint64_t mask, uint8_t pad = 0) {
    Block b;
    b.add(HvSendSyntheticClusterIpiInput{vector, vtl, {0, pad, 0}, mask});
    return h.send_synthetic_cluster_ipi(b.args()).status;
  }
  uint16_t flush_space(uint64_t flags, uint64_t mask) {
    Block b;
    b.add(HvFlushVirtualAddressSpaceInput{0x1000, flags, mask});
    return h.flush_virtual_address_space(b.args()).status;
  }

  RecordingTarget target;
  HypercallHandlers h{target};
};

using IpiList = std::vector<std::pair<VpIndex, uint8_t>>;

// ---- PostMessage / SignalEvent / NotifyLongSpinWait ------------------------------------------------

TEST_F(HypercallHandlersTest, PostMessagePayloadAndTypeLimits) {
  EXPECT_EQ(post(1, 1, 240), HV_STATUS_SUCCESS);
  ASSERT_EQ(target.posts.size(), 1u);
  EXPECT_EQ(target.posts[0].vp, 2u);
  EXPECT_EQ(target.posts[0].payload.size(), 240u);
  EXPECT_EQ(target.posts[0].payload.back(), 0x77);
  EXPECT_EQ(post(1, 1, 241), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(post(1, 1, 0xffffffff), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(post(1, 0, 8), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(post(1, 0x80000000, 8), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(post(1, 1, 8, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(post(0x01000001, 1, 8), HV_STATUS_INVALID_CONNECTION_ID);
  EXPECT_EQ(target.posts.size(), 1u);
  EXPECT_EQ(post(1, 0x7fffffff, 0), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.posts[1].type, 0x7fffffffu);
}

TEST_F(HypercallHandlersTest, PostMessageReturnsTheTargetsStatus) {
  target.next_status = HV_STATUS_INSUFFICIENT_BUFFERS;
  EXPECT_EQ(post(1, 1, 4), HV_STATUS_INSUFFICIENT_BUFFERS);
  target.next_status = HV_STATUS_INVALID_CONNECTION_ID;
  EXPECT_EQ(post(9, 1, 4), HV_STATUS_INVALID_CONNECTION_ID);
}

TEST_F(HypercallHandlersTest, SignalEventFlagAndReservedChecks) {
  auto signal = [&](uint32_t conn, uint16_t flag, uint16_t reserved) {
    Block b;
    b.add(HvSignalEventInput{conn, flag, reserved});
    return h.signal_event(b.args()).status;
  };
  EXPECT_EQ(signal(3, 2047, 0), HV_STATUS_SUCCESS);
  EXPECT_EQ(signal(3, 2048, 0), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(signal(3, 0, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(signal(0xff000003, 0, 0), HV_STATUS_INVALID_CONNECTION_ID);
  target.next_status = HV_STATUS_INVALID_PORT_ID;
  EXPECT_EQ(signal(3, 1, 0), HV_STATUS_INVALID_PORT_ID);
  EXPECT_EQ(target.signals, (std::vector<std::tuple<VpIndex, uint32_t, uint16_t>>{{2, 3, 2047}, {2, 3, 1}}));
}

TEST_F(HypercallHandlersTest, NotifyLongSpinWait) {
  Block ok;
  ok.add(HvNotifyLongSpinWaitInput{0x1000, 0});
  EXPECT_EQ(h.notify_long_spin_wait(ok.args()).status, HV_STATUS_SUCCESS);
  Block bad;
  bad.add(HvNotifyLongSpinWaitInput{1, 1});
  EXPECT_EQ(h.notify_long_spin_wait(bad.args()).status, HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(target.spins, (std::vector<std::pair<VpIndex, uint32_t>>{{2, 0x1000}}));
}

// ---- flushes ----------------------------------------------------------------------------------------

TEST_F(HypercallHandlersTest, FlushSpaceFlagsAndTargets) {
  EXPECT_EQ(flush_space(HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY | HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES, 0b1001 | 1ull << 40),
            HV_STATUS_SUCCESS);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{0, 3}));  // VP 40 does not exist: ignored
  target.flushes.clear();
  EXPECT_EQ(flush_space(HV_FLUSH_ALL_PROCESSORS, 0), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{0, 1, 2, 3}));
  target.flushes.clear();
  EXPECT_EQ(flush_space(HV_FLUSH_USE_EXTENDED_RANGE_FORMAT, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(flush_space(1ull << 4, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(flush_space(1ull << 63, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(target.flushes.empty());
}

TEST_F(HypercallHandlersTest, ExtendedRangeFormatOnlyWhenOffered) {
  HypercallHandlers ext{target, true};  // CPUID 0x40000003 EDX b14 (hv-tlbflush-ext)
  Block space;
  space.add(HvFlushVirtualAddressSpaceInput{0, HV_FLUSH_USE_EXTENDED_RANGE_FORMAT, 0b1});
  EXPECT_EQ(ext.flush_virtual_address_space(space.args()).status, HV_STATUS_SUCCESS);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{0}));
  target.flushes.clear();
  Block list;  // one extended-format GVA range entry
  list.add(HvFlushVirtualAddressSpaceInput{0, HV_FLUSH_USE_EXTENDED_RANGE_FORMAT, 0b10}).add(uint64_t{0x7000'0fff});
  HandlerResult r = ext.flush_virtual_address_list(list.args(0, 1));
  EXPECT_EQ(r.status, HV_STATUS_SUCCESS);
  EXPECT_EQ(r.reps_done, 1u);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{1}));
  EXPECT_EQ(h.flush_virtual_address_list(list.args(0, 1)).status, HV_STATUS_INVALID_PARAMETER) << "not offered";
}

TEST_F(HypercallHandlersTest, FlushListFlushesWhenComplete) {
  Block b;
  b.add(HvFlushVirtualAddressSpaceInput{0, 0, 0b10}).add(uint64_t{0x7000'0003}).add(uint64_t{0x9000'0000});
  HandlerResult r = h.flush_virtual_address_list(b.args(0, 2, 0, 1));
  EXPECT_EQ(r.status, HV_STATUS_SUCCESS);
  EXPECT_EQ(r.reps_done, 1u);
  EXPECT_TRUE(target.flushes.empty());
  r = h.flush_virtual_address_list(b.args(0, 2, 1, 2));
  EXPECT_EQ(r.reps_done, 2u);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{1}));
}

TEST_F(HypercallHandlersTest, FlushListRejectsNonGlobalOnly) {
  Block b;
  b.add(HvFlushVirtualAddressSpaceInput{0, HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY, 1}).add(uint64_t{0});
  HandlerResult r = h.flush_virtual_address_list(b.args(0, 1));
  EXPECT_EQ(r.status, HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(r.reps_done, 0u);
  EXPECT_TRUE(target.flushes.empty());
}

TEST_F(HypercallHandlersTest, FlushExSparseSetAndFormats) {
  target.vps = 70;
  Block sparse;  // banks 0 and 1: VPs 1 and 65
  sparse.add(HvFlushVirtualAddressSpaceExInput{0, 0, {HV_GENERIC_SET_SPARSE_4K, 0b11}}).add(uint64_t{0b10}).add(uint64_t{0b10});
  EXPECT_EQ(h.flush_virtual_address_space_ex(sparse.args(2)).status, HV_STATUS_SUCCESS);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{1, 65}));
  // The variable header size must equal the number of banks.
  EXPECT_EQ(h.flush_virtual_address_space_ex(sparse.args(1)).status, HV_STATUS_INVALID_HYPERCALL_INPUT);

  target.flushes.clear();
  Block all;
  all.add(HvFlushVirtualAddressSpaceExInput{0, 0, {HV_GENERIC_SET_ALL, 0}});
  EXPECT_EQ(h.flush_virtual_address_space_ex(all.args()).status, HV_STATUS_SUCCESS);
  EXPECT_EQ(target.flushes.size(), 70u);

  target.flushes.clear();
  Block unknown;
  unknown.add(HvFlushVirtualAddressSpaceExInput{0, 0, {2, 0}});
  EXPECT_EQ(h.flush_virtual_address_space_ex(unknown.args()).status, HV_STATUS_INVALID_PARAMETER);
  Block bad_flags;
  bad_flags.add(HvFlushVirtualAddressSpaceExInput{0, 1ull << 5, {HV_GENERIC_SET_ALL, 0}});
  EXPECT_EQ(h.flush_virtual_address_space_ex(bad_flags.args()).status, HV_STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(target.flushes.empty());
}

TEST_F(HypercallHandlersTest, FlushListExTakesBanksThenGvas) {
  Block b;  // bank 0 = VP 2; then 3 GVA entries
  b.add(HvFlushVirtualAddressSpaceExInput{0, 0, {HV_GENERIC_SET_SPARSE_4K, 1}}).add(uint64_t{0b100});
  for (int i = 0; i < 3; ++i) b.add(uint64_t{0x1000});
  HandlerResult r = h.flush_virtual_address_list_ex(b.args(1, 3));
  EXPECT_EQ(r.status, HV_STATUS_SUCCESS);
  EXPECT_EQ(r.reps_done, 3u);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{2}));
  r = h.flush_virtual_address_list_ex(b.args(0, 3, 1));
  EXPECT_EQ(r.status, HV_STATUS_INVALID_HYPERCALL_INPUT);
  EXPECT_EQ(r.reps_done, 1u);
}

// ---- cluster IPIs -------------------------------------------------------------------------------------

TEST_F(HypercallHandlersTest, IpiVectorRange) {
  EXPECT_EQ(ipi(0x0f, 0, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(ipi(0x100, 0, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(ipi(0xffffffff, 0, 1), HV_STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(target.ipis.empty());
  EXPECT_EQ(ipi(0x10, 0, 1), HV_STATUS_SUCCESS);
  EXPECT_EQ(ipi(0xff, 0, 1), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.ipis, (IpiList{{0, 0x10}, {0, 0xff}}));
}

TEST_F(HypercallHandlersTest, IpiVtlAndPaddingChecks) {
  EXPECT_EQ(ipi(0x30, HV_INPUT_VTL_USE_TARGET, 0b10), HV_STATUS_SUCCESS);  // VTL 0, named
  EXPECT_EQ(ipi(0x30, HV_INPUT_VTL_USE_TARGET | 1, 0b10), HV_STATUS_INVALID_PARAMETER);  // VTL 1
  EXPECT_EQ(ipi(0x30, 0x20, 0b10), HV_STATUS_INVALID_PARAMETER);  // reserved bit
  EXPECT_EQ(ipi(0x30, 0, 0b10, 1), HV_STATUS_INVALID_PARAMETER);  // padding
  EXPECT_EQ(target.ipis, (IpiList{{1, 0x30}}));
}

TEST_F(HypercallHandlersTest, IpiToMissingVpsIsIgnored) {
  EXPECT_EQ(ipi(0x40, 0, ~0ull), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.ipis, (IpiList{{0, 0x40}, {1, 0x40}, {2, 0x40}, {3, 0x40}}));
}

TEST_F(HypercallHandlersTest, IpiExSparseAllAndErrors) {
  target.vps = 70;
  Block sparse;
  sparse.add(HvSendSyntheticClusterIpiExInput{0xe0, 0, {}, {HV_GENERIC_SET_SPARSE_4K, 0b11}})
      .add(uint64_t{0b10})
      .add(uint64_t{0b10 | 1ull << 63});  // VP 127 does not exist
  EXPECT_EQ(h.send_synthetic_cluster_ipi_ex(sparse.args(2)).status, HV_STATUS_SUCCESS);
  EXPECT_EQ(target.ipis, (IpiList{{1, 0xe0}, {65, 0xe0}}));

  target.ipis.clear();
  target.vps = 3;
  Block all;
  all.add(HvSendSyntheticClusterIpiExInput{0x20, 0, {}, {HV_GENERIC_SET_ALL, 0}});
  EXPECT_EQ(h.send_synthetic_cluster_ipi_ex(all.args()).status, HV_STATUS_SUCCESS);
  EXPECT_EQ(target.ipis, (IpiList{{0, 0x20}, {1, 0x20}, {2, 0x20}}));

  target.ipis.clear();
  Block empty;  // a sparse set with no banks: nobody
  empty.add(HvSendSyntheticClusterIpiExInput{0x20, 0, {}, {HV_GENERIC_SET_SPARSE_4K, 0}});
  EXPECT_EQ(h.send_synthetic_cluster_ipi_ex(empty.args()).status, HV_STATUS_SUCCESS);
  EXPECT_EQ(h.send_synthetic_cluster_ipi_ex(empty.args(1)).status, HV_STATUS_INVALID_HYPERCALL_INPUT);
  Block format;
  format.add(HvSendSyntheticClusterIpiExInput{0x20, 0, {}, {7, 0}});
  EXPECT_EQ(h.send_synthetic_cluster_ipi_ex(format.args()).status, HV_STATUS_INVALID_PARAMETER);
  Block vector;
  vector.add(HvSendSyntheticClusterIpiExInput{0x2, 0, {}, {HV_GENERIC_SET_ALL, 0}});
  EXPECT_EQ(h.send_synthetic_cluster_ipi_ex(vector.args()).status, HV_STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(target.ipis.empty());
}

// ---- Get/SetVpRegisters -----------------------------------------------------------------------------

TEST_F(HypercallHandlersTest, GetVpRegistersHeaderChecks) {
  auto get = [&](uint64_t partition, uint32_t vp, uint8_t vtl, uint8_t pad) {
    Block b;
    b.add(HvGetSetVpRegistersInput{partition, vp, vtl, {pad, 0, 0}}).add(uint32_t{0x90003});
    HandlerResult r = h.get_vp_registers(b.args(0, 1));
    uint64_t low;
    std::memcpy(&low, b.out.data(), sizeof low);
    return std::make_pair(r.status, r.status == HV_STATUS_SUCCESS ? low : uint64_t{0});
  };
  EXPECT_EQ(get(HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, 0), std::make_pair(HV_STATUS_SUCCESS, uint64_t{2} << 32 | 0x90003));
  EXPECT_EQ(get(HV_PARTITION_ID_SELF, 3, 0, 0), std::make_pair(HV_STATUS_SUCCESS, uint64_t{3} << 32 | 0x90003));
  EXPECT_EQ(get(HV_PARTITION_ID_SELF, 4, 0, 0).first, HV_STATUS_INVALID_VP_INDEX);
  EXPECT_EQ(get(1, HV_VP_INDEX_SELF, 0, 0).first, HV_STATUS_INVALID_PARTITION_ID);
  EXPECT_EQ(get(HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0x11, 0).first, HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(get(HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, 1).first, HV_STATUS_INVALID_PARAMETER);
}

TEST_F(HypercallHandlersTest, SetVpRegistersStopsAtTheFailingElement) {
  Block b;
  b.add(HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, 1, 0, {}})
      .add(HvRegisterAssoc{0x90002, 0, 0, {0x1234, 0}})
      .add(HvRegisterAssoc{0x90013, 0, 0, {0x5000, 0}})
      .add(HvRegisterAssoc{0, 0, 0, {1, 0}});  // the target refuses name 0
  HandlerResult r = h.set_vp_registers(b.args(0, 3));
  EXPECT_EQ(r.status, HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(r.reps_done, 2u);
  EXPECT_EQ(target.sets, (std::vector<std::tuple<VpIndex, uint32_t, uint64_t>>{{1, 0x90002, 0x1234}, {1, 0x90013, 0x5000}}));
}

TEST_F(HypercallHandlersTest, SetVpRegistersRejectsReservedFieldsAndWideValues) {
  for (HvRegisterAssoc bad : {HvRegisterAssoc{0x90002, 1, 0, {1, 0}}, HvRegisterAssoc{0x90002, 0, 1, {1, 0}},
                              HvRegisterAssoc{0x90002, 0, 0, {1, 1}}}) {
    Block b;
    b.add(HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, {}}).add(bad);
    HandlerResult r = h.set_vp_registers(b.args(0, 1));
    EXPECT_EQ(r.status, HV_STATUS_INVALID_PARAMETER);
    EXPECT_EQ(r.reps_done, 0u);
  }
  target.next_status = HV_STATUS_INVALID_REGISTER_VALUE;
  Block b;
  b.add(HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, {}}).add(HvRegisterAssoc{0x90002, 0, 0, {5, 0}});
  EXPECT_EQ(h.set_vp_registers(b.args(0, 1)).status, HV_STATUS_INVALID_REGISTER_VALUE);
  EXPECT_EQ(target.sets.size(), 1u);
}

// ---- debug loopback ---------------------------------------------------------------------------------

TEST_F(HypercallHandlersTest, DebugLoopbackBoundsAndEmptyBuffer) {
  Block retrieve;
  retrieve.add(HvRetrieveDebugDataInput{16, 0, 100});
  EXPECT_EQ(h.retrieve_debug_data(retrieve.args()).status, HV_STATUS_NO_DATA);

  std::vector<uint8_t> chunk(4000, 0x5a);
  size_t posted = 0;
  uint16_t status = HV_STATUS_SUCCESS;
  while (status == HV_STATUS_SUCCESS) {
    Block post;
    post.add(HvPostDebugDataInput{4000, 0});
    for (uint8_t byte : chunk) post.add(byte);
    HandlerResult r = h.post_debug_data(post.args());
    status = r.status;
    if (status == HV_STATUS_SUCCESS) posted += 4000;
  }
  EXPECT_EQ(status, HV_STATUS_INSUFFICIENT_BUFFERS);
  EXPECT_EQ(posted, 16000u);
  EXPECT_LE(h.debug_pending(), kDebugLoopbackCapacity);

  Block too_big;
  too_big.add(HvRetrieveDebugDataInput{4096 - 8 + 1, 0, 0});
  EXPECT_EQ(h.retrieve_debug_data(too_big.args()).status, HV_STATUS_INVALID_PARAMETER);
  HandlerResult r = h.retrieve_debug_data(retrieve.args());
  EXPECT_EQ(r.status, HV_STATUS_SUCCESS);
  EXPECT_EQ(r.output_size, 8u + 16u);
  EXPECT_EQ(h.debug_pending(), 16000u - 16u);

  Block reset_bad;
  reset_bad.add(HvResetDebugSessionInput{0, 1});
  EXPECT_EQ(h.reset_debug_session(reset_bad.args()).status, HV_STATUS_INVALID_PARAMETER);
  h.reset();
  EXPECT_EQ(h.debug_pending(), 0u);
}

}  // namespace
}  // namespace hvsim::hv
