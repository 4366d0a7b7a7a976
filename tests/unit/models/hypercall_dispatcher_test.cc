// HypercallDispatcher: control-word checks, memory / fast / XMM fast input, output placement, rep
// continuation, #UD cases and the trace record, over a fake HypercallIo, a flat guest memory and a
// recording HypercallTarget. Per-call field validation is in hypercall_handlers_test.cc.
#include "models/hv/hypercall/dispatcher.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/flat_memory.h"
#include "tests/support/recording_hypercall_target.h"

namespace hvsim::hv {
namespace {

using test::FlatMemory;

class FakeIo : public HypercallIo {
 public:
  explicit FakeIo(PhysicalMemory& view) : view_(view) {}
  uint64_t control() const override { return rcx; }
  uint64_t input_gpa() const override { return rdx; }
  uint64_t output_gpa() const override { return r8; }
  bool xmm_fast_available() const override { return xmm_available; }
  uint64_t xmm_input(unsigned q) const override { return xmm.at(q); }
  void set_xmm_output(unsigned q, uint64_t v) override { xmm_out[q] = v; }
  void set_result(uint64_t v) override { rax = v; }
  void set_control(uint64_t v) override { new_rcx = v; }
  bool is_64bit_mode() const override { return long_mode; }
  unsigned cpl() const override { return ring; }
  PhysicalMemory& memory() override { return view_; }

  uint64_t rcx = 0, rdx = 0, r8 = 0;
  std::array<uint64_t, 12> xmm{};
  bool xmm_available = true;
  bool long_mode = true;
  unsigned ring = 0;
  std::optional<uint64_t> rax;
  std::optional<uint64_t> new_rcx;
  std::map<unsigned, uint64_t> xmm_out;

 private:
  PhysicalMemory& view_;
};

// The calling VP's view of the flat memory (HypercallIo::memory()); writes that touch
// `read_only_page` are refused, as the machine refuses them for a read-only overlay (the
// hypercall page).
class CallerView final : public PhysicalMemory {
 public:
  explicit CallerView(FlatMemory& m) : m_(m) {}
  bool read(uint64_t gpa, void* dst, size_t len) override { return m_.read(gpa, dst, len); }
  bool write(uint64_t gpa, const void* src, size_t len) override {
    if (read_only_page && gpa < *read_only_page + 0x1000 && *read_only_page < gpa + len) return false;
    return m_.write(gpa, src, len);
  }
  std::optional<uint64_t> read_only_page;

 private:
  FlatMemory& m_;
};

using RecordingTarget = test::RecordingHypercallTarget;

constexpr uint64_t kIn = 0x1000;   // input page
constexpr uint64_t kOut = 0x2000;  // output page

uint64_t ctl(uint16_t code, bool fast = false, uint32_t var = 0, uint32_t reps = 0, uint32_t start = 0) {
  return code | (fast ? HV_HYPERCALL_FAST_BIT : 0) | (uint64_t{var} << HV_HYPERCALL_VARHEAD_OFFSET) |
         (uint64_t{reps} << HV_HYPERCALL_REP_COMP_OFFSET) | (uint64_t{start} << HV_HYPERCALL_REP_START_OFFSET);
}

class HypercallDispatcherTest : public ::testing::Test {
 protected:
  HypercallDispatcherTest() { tracer.enable_capture(); }

  HypercallOutcome call(uint64_t control, uint64_t in = kIn, uint64_t out = kOut) {
    if (!dispatcher) dispatcher = std::make_unique<HypercallDispatcher>(target, config, tracer);
    io.rcx = control;
    io.rdx = in;
    io.r8 = out;
    io.rax.reset();
    io.new_rcx.reset();
    return dispatcher->dispatch(1, VirtualTime::from_ns(7), io);
  }
  uint16_t status() const { return static_cast<uint16_t>(io.rax.value() & 0xffff); }
  uint32_t reps() const { return static_cast<uint32_t>(io.rax.value() >> 32); }
  void put_signal(uint64_t gpa, uint32_t conn, uint16_t flag) { mem.put(gpa, HvSignalEventInput{conn, flag, 0}); }

  FlatMemory mem{0x10000};
  CallerView view{mem};
  RecordingTarget target;
  HypercallConfig config;
  Tracer tracer;
  FakeIo io{view};
  std::unique_ptr<HypercallDispatcher> dispatcher;
};

// ---- environment and control word ---------------------------------------------------------------

TEST_F(HypercallDispatcherTest, CplAboveZeroIsUdAndTouchesNoRegister) {
  io.ring = 3;
  put_signal(kIn, 1, 0);
  HypercallOutcome o = call(ctl(HVCALL_SIGNAL_EVENT));
  EXPECT_TRUE(o.ud);
  EXPECT_FALSE(o.retry);
  EXPECT_FALSE(io.rax.has_value());
  EXPECT_TRUE(target.signals.empty());
  ASSERT_EQ(tracer.captured().size(), 1u);
  EXPECT_NE(tracer.captured()[0].find("\"outcome\":\"ud\""), std::string::npos);
}

TEST_F(HypercallDispatcherTest, NotLongModeIsUd) {
  io.long_mode = false;
  EXPECT_TRUE(call(ctl(HVCALL_SIGNAL_EVENT)).ud);
  EXPECT_FALSE(io.rax.has_value());
}

TEST_F(HypercallDispatcherTest, ReservedControlBitsAreInvalidHypercallInput) {
  put_signal(kIn, 1, 0);
  for (uint64_t bit : {1ull << 27, 1ull << 30, 1ull << 31, 1ull << 44, 1ull << 47, 1ull << 60, 1ull << 63}) {
    HypercallOutcome o = call(ctl(HVCALL_SIGNAL_EVENT) | bit);
    EXPECT_FALSE(o.ud || o.retry);
    EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT) << std::hex << bit;
  }
  EXPECT_TRUE(target.signals.empty());
}

TEST_F(HypercallDispatcherTest, UnknownCodeIsInvalidHypercallCode) {
  call(ctl(0x0001));
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_CODE);
  call(ctl(0x8001));
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_CODE);
  EXPECT_NE(tracer.captured().back().find("\"name\":\"unknown\""), std::string::npos);
}

TEST_F(HypercallDispatcherTest, DisabledCallsAreAccessDenied) {
  config.post_messages = false;
  config.signal_events = false;
  config.ex_processor_masks = false;
  config.vp_registers = false;
  put_signal(kIn, 1, 0);
  for (uint16_t code : {HVCALL_POST_MESSAGE, HVCALL_SIGNAL_EVENT, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX,
                        HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX, HVCALL_POST_DEBUG_DATA, HVCALL_RETRIEVE_DEBUG_DATA,
                        HVCALL_RESET_DEBUG_SESSION}) {
    call(ctl(code));
    EXPECT_EQ(status(), HV_STATUS_ACCESS_DENIED) << code;
  }
  call(ctl(HVCALL_GET_VP_REGISTERS, false, 0, 1));
  EXPECT_EQ(status(), HV_STATUS_ACCESS_DENIED);
  EXPECT_TRUE(target.signals.empty());
}

TEST_F(HypercallDispatcherTest, FlushAndIpiFlagsGateTheirCalls) {
  config.tlb_flush = false;
  config.cluster_ipi = false;
  for (uint16_t code : {HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX,
                        HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX}) {
    call(ctl(code));
    EXPECT_EQ(status(), HV_STATUS_ACCESS_DENIED) << code;
  }
  call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 1));
  EXPECT_EQ(status(), HV_STATUS_ACCESS_DENIED);
}

TEST_F(HypercallDispatcherTest, RepCountMismatchesAreInvalidHypercallInput) {
  put_signal(kIn, 1, 0);
  call(ctl(HVCALL_SIGNAL_EVENT, false, 0, 1));  // rep count on a simple call
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  call(ctl(HVCALL_SIGNAL_EVENT, false, 0, 0, 1));  // rep start on a simple call
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  call(ctl(HVCALL_SIGNAL_EVENT, false, 1));  // variable header on a call without one
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 0));  // rep call without reps
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 2, 2));  // start == count
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  EXPECT_EQ(reps(), 0u);
  EXPECT_TRUE(target.signals.empty());
  EXPECT_TRUE(target.flushes.empty());
}

// ---- memory-form placement ------------------------------------------------------------------------

TEST_F(HypercallDispatcherTest, MisalignedInputIsInvalidAlignment) {
  put_signal(kIn + 4, 1, 0);
  call(ctl(HVCALL_SIGNAL_EVENT), kIn + 4);
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
  EXPECT_TRUE(target.signals.empty());
}

TEST_F(HypercallDispatcherTest, MisalignedOutputIsInvalidAlignment) {
  mem.put(kIn, HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, {}});
  mem.put<uint32_t>(kIn + 16, 7);
  call(ctl(HVCALL_GET_VP_REGISTERS, false, 0, 1), kIn, kOut + 4);
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
}

TEST_F(HypercallDispatcherTest, OutputGpaIgnoredWhenTheCallHasNoOutput) {
  put_signal(kIn, 1, 0);
  call(ctl(HVCALL_SIGNAL_EVENT), kIn, 0xdead'beef'0003ull);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.signals.size(), 1u);
}

TEST_F(HypercallDispatcherTest, PageCrossingBlockIsInvalidAlignment) {
  // A 256-byte PostMessage block starting 128 bytes before a page end.
  call(ctl(HVCALL_POST_MESSAGE), 2 * 0x1000 - 128);
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
  // A rep list that runs past its page.
  call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 510), kIn);  // 24 + 510 * 8 > 4096
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
  EXPECT_TRUE(target.posts.empty());
  EXPECT_TRUE(target.flushes.empty());
}

TEST_F(HypercallDispatcherTest, BlockOutsideGuestMemoryIsInvalidAlignment) {
  call(ctl(HVCALL_SIGNAL_EVENT), 0x10000);
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
  mem.put(kIn, HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, {}});
  mem.put<uint32_t>(kIn + 16, 7);
  call(ctl(HVCALL_GET_VP_REGISTERS, false, 0, 1), kIn, 0x40000);  // output probed before the handler
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
  call(ctl(HVCALL_SIGNAL_EVENT), ~0ull & ~7ull);  // top of the address space: no wrap-around
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
}

// The blocks go through the caller's view: an output block it cannot write is refused before the
// handler runs (nothing consumed), and the bytes there stay as they were.
TEST_F(HypercallDispatcherTest, OutputTheCallerCannotWriteIsInvalidAlignmentBeforeTheHandlerRuns) {
  config.debugging = true;
  mem.put(kIn, HvPostDebugDataInput{4, 0});
  mem.put<uint32_t>(kIn + 8, 0x64636261);
  call(ctl(HVCALL_POST_DEBUG_DATA));
  ASSERT_EQ(dispatcher->debug_pending(), 4u);
  mem.put(kIn, HvRetrieveDebugDataInput{3, 0, 0});
  mem.put<uint64_t>(kOut + 0x100, 0x1122334455667788);
  view.read_only_page = kOut;
  call(ctl(HVCALL_RETRIEVE_DEBUG_DATA), kIn, kOut + 0x100);
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
  EXPECT_EQ(dispatcher->debug_pending(), 4u) << "the handler ran";
  EXPECT_EQ(mem.get<uint64_t>(kOut + 0x100), 0x1122334455667788u);
  view.read_only_page.reset();
  call(ctl(HVCALL_RETRIEVE_DEBUG_DATA), kIn, kOut + 0x100);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(dispatcher->debug_pending(), 1u);
}

TEST_F(HypercallDispatcherTest, OverlappingInputAndOutputIsInvalidAlignment) {
  mem.put(kIn, HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, {}});
  mem.put<uint32_t>(kIn + 16, 7);
  call(ctl(HVCALL_GET_VP_REGISTERS, false, 0, 1), kIn, kIn + 16);
  EXPECT_EQ(status(), HV_STATUS_INVALID_ALIGNMENT);
}

// ---- memory, fast and XMM fast input ----------------------------------------------------------------

TEST_F(HypercallDispatcherTest, MemoryPostMessageRoutesPayload) {
  HvPostMessageInput in{};
  in.connection_id = 4;
  in.message_type = 1;
  in.payload_size = 3;
  in.payload[0] = 0xaa;
  in.payload[2] = 0xcc;
  mem.put(kIn, in);
  HypercallOutcome o = call(ctl(HVCALL_POST_MESSAGE));
  EXPECT_FALSE(o.ud || o.retry);
  EXPECT_EQ(*io.rax, 0u);
  ASSERT_EQ(target.posts.size(), 1u);
  EXPECT_EQ(target.posts[0].vp, 1u);
  EXPECT_EQ(target.posts[0].conn, 4u);
  EXPECT_EQ(target.posts[0].payload, (std::vector<uint8_t>{0xaa, 0, 0xcc}));
}

TEST_F(HypercallDispatcherTest, FastSignalEventTakesRdx) {
  call(ctl(HVCALL_SIGNAL_EVENT, true), 0x0000'0005'0000'0002ull, 0);  // Linux fast8: conn | flag << 32
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  ASSERT_EQ(target.signals.size(), 1u);
  EXPECT_EQ(target.signals[0], std::make_tuple(VpIndex{1}, uint32_t{2}, uint16_t{5}));
}

TEST_F(HypercallDispatcherTest, FastClusterIpiTakesRdxAndR8) {
  call(ctl(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, true), 0x40, 0b1010);  // Linux fast16: vector, mask
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.ipis, (std::vector<std::pair<VpIndex, uint8_t>>{{1, 0x40}, {3, 0x40}}));
}

TEST_F(HypercallDispatcherTest, FastInputTooLargeForRegistersIsInvalidHypercallInput) {
  call(ctl(HVCALL_POST_MESSAGE, true));  // 256 bytes > 112
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  call(ctl(HVCALL_POST_DEBUG_DATA, true));  // input runs to the page end: memory only
  EXPECT_EQ(status(), HV_STATUS_ACCESS_DENIED);  // debugging off: the privilege check comes first
  EXPECT_TRUE(target.posts.empty());
}

TEST_F(HypercallDispatcherTest, XmmFastInputCarriesTheRestOfTheBlock) {
  // FlushVirtualAddressSpaceEx, 32-byte header + 1 bank: RDX, R8, XMM0 (both halves).
  io.xmm[0] = 0;       // vp_set.format = sparse
  io.xmm[1] = 1;       // valid_bank_mask = bank 0
  io.xmm[2] = 0b0101;  // bank 0 = VPs 0 and 2
  call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, true, 1), 0x1234000, 0);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{0, 2}));
}

TEST_F(HypercallDispatcherTest, XmmFastInputNotOfferedIsUd) {
  io.xmm_available = false;
  HypercallOutcome o = call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, true), 0, 0);  // 24 bytes
  EXPECT_TRUE(o.ud);
  EXPECT_FALSE(io.rax.has_value());
  io.xmm_available = true;
  config.xmm_input = false;
  dispatcher.reset();
  EXPECT_TRUE(call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, true), 0, 0).ud);
  EXPECT_TRUE(target.flushes.empty());
  // A 16-byte block needs no XMM register.
  EXPECT_FALSE(call(ctl(HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, true), 0x30, 1).ud);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
}

TEST_F(HypercallDispatcherTest, FastCallWithOutputNeedsXmmOutput) {
  // GetVpRegisters, 2 names: input 24 bytes (RDX, R8, XMM0 low), output 32 bytes.
  io.xmm[0] = uint64_t{0x90003} | uint64_t{0x90004} << 32;  // names at offsets 16 and 20
  call(ctl(HVCALL_GET_VP_REGISTERS, true, 0, 2), HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF);
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
  EXPECT_TRUE(io.xmm_out.empty());
}

TEST_F(HypercallDispatcherTest, XmmFastOutputFollowsTheInputRegisters) {
  config.xmm_output = true;
  io.xmm[0] = uint64_t{0x90003} | uint64_t{0x90004} << 32;
  call(ctl(HVCALL_GET_VP_REGISTERS, true, 0, 2), HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(reps(), 2u);
  // Input uses pairs 0 (RDX:R8) and 1 (XMM0): output starts at XMM1 = xmm qword 2.
  std::map<unsigned, uint64_t> expected{{2, 1ull << 32 | 0x90003}, {3, 0}, {4, 1ull << 32 | 0x90004}, {5, 0}};
  EXPECT_EQ(io.xmm_out, expected);
}

TEST_F(HypercallDispatcherTest, XmmFastOutputThatDoesNotFitIsInvalidHypercallInput) {
  config.xmm_output = true;
  // 5 names: input 36 bytes = 3 pairs, output 80 bytes = 5 pairs: 8 > 7.
  call(ctl(HVCALL_GET_VP_REGISTERS, true, 0, 5), HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF);
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);
}

// ---- rep calls and continuation ---------------------------------------------------------------------

TEST_F(HypercallDispatcherTest, LongRepListContinuesInBoundedSteps) {
  mem.put(kIn, HvFlushVirtualAddressSpaceInput{0, 0, 0b11});
  uint64_t control = ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 300);
  HypercallOutcome o = call(control);
  EXPECT_TRUE(o.retry);
  EXPECT_FALSE(io.rax.has_value());
  ASSERT_TRUE(io.new_rcx.has_value());
  EXPECT_EQ(*io.new_rcx, ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 300, kDefaultMaxRepsPerDispatch));
  EXPECT_TRUE(target.flushes.empty());  // flushed once, when the list is complete

  o = call(*io.new_rcx);
  EXPECT_TRUE(o.retry);
  EXPECT_EQ(*io.new_rcx, ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 300, 256));

  o = call(*io.new_rcx);
  EXPECT_FALSE(o.retry || o.ud);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(reps(), 300u);  // total completed, counted from element 0
  EXPECT_EQ(target.flushes, (std::vector<VpIndex>{0, 1}));
  ASSERT_EQ(tracer.captured().size(), 3u);
  EXPECT_NE(tracer.captured()[0].find("\"reps_done\":128,\"status\":\"0x0\",\"outcome\":\"retry\""),
            std::string::npos);
  EXPECT_NE(tracer.captured()[2].find("\"rep_start\":256,\"reps_done\":300"), std::string::npos);
}

TEST_F(HypercallDispatcherTest, RepCallStartsAtTheStartIndex) {
  config.max_reps_per_dispatch = 2;
  mem.put(kIn, HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, 2, 0, {}});
  for (uint32_t i = 0; i < 5; ++i) mem.put<uint32_t>(kIn + 16 + 4 * i, 0x100 + i);
  for (uint32_t i = 0; i < 5; ++i) mem.put(kOut + 16 * i, HvRegisterValue{0xeeee, 0xeeee});
  HypercallOutcome o = call(ctl(HVCALL_GET_VP_REGISTERS, false, 0, 5, 1));
  EXPECT_TRUE(o.retry);
  EXPECT_EQ(*io.new_rcx, ctl(HVCALL_GET_VP_REGISTERS, false, 0, 5, 3));
  EXPECT_EQ(mem.get<uint64_t>(kOut), 0xeeeeu);  // element 0 untouched
  EXPECT_EQ(mem.get<uint64_t>(kOut + 16), 2ull << 32 | 0x101);
  EXPECT_EQ(mem.get<uint64_t>(kOut + 24), 0u);
  EXPECT_EQ(mem.get<uint64_t>(kOut + 32), 2ull << 32 | 0x102);
  EXPECT_EQ(mem.get<uint64_t>(kOut + 48), 0xeeeeu);
  o = call(*io.new_rcx);
  EXPECT_FALSE(o.retry);  // elements 3 and 4: done
  EXPECT_EQ(reps(), 5u);
  EXPECT_EQ(mem.get<uint64_t>(kOut + 64), 2ull << 32 | 0x104);
}

TEST_F(HypercallDispatcherTest, RepErrorReportsElementsCompletedAndStoresThem) {
  mem.put(kIn, HvGetSetVpRegistersInput{HV_PARTITION_ID_SELF, HV_VP_INDEX_SELF, 0, {}});
  mem.put<uint32_t>(kIn + 16, 0x90003);
  mem.put<uint32_t>(kIn + 20, 0);  // unknown name
  mem.put<uint32_t>(kIn + 24, 0x90004);
  mem.put(kOut + 32, HvRegisterValue{0x5555, 0});
  HypercallOutcome o = call(ctl(HVCALL_GET_VP_REGISTERS, false, 0, 3));
  EXPECT_FALSE(o.retry || o.ud);
  EXPECT_EQ(status(), HV_STATUS_INVALID_PARAMETER);
  EXPECT_EQ(reps(), 1u);
  EXPECT_EQ(mem.get<uint64_t>(kOut), 1ull << 32 | 0x90003);
  EXPECT_EQ(mem.get<uint64_t>(kOut + 32), 0x5555u);
}

TEST_F(HypercallDispatcherTest, ZeroMaxRepsStillMakesProgress) {
  config.max_reps_per_dispatch = 0;
  mem.put(kIn, HvFlushVirtualAddressSpaceInput{0, 0, 1});
  EXPECT_TRUE(call(ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 2)).retry);
  EXPECT_EQ(*io.new_rcx, ctl(HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, false, 0, 2, 1));
  EXPECT_FALSE(call(*io.new_rcx).retry);
  EXPECT_EQ(reps(), 2u);
}

// ---- trace ----------------------------------------------------------------------------------------

TEST_F(HypercallDispatcherTest, EveryDispatchEmitsOneRecord) {
  put_signal(kIn, 3, 9);
  call(ctl(HVCALL_SIGNAL_EVENT));
  call(ctl(0x00ff));
  ASSERT_EQ(tracer.captured().size(), 2u);
  EXPECT_EQ(tracer.captured()[0],
            "{\"t\":7000,\"vp\":1,\"ev\":\"hv.hypercall\",\"code\":\"0x5d\",\"name\":\"SignalEvent\",\"fast\":false,"
            "\"rep_count\":0,\"rep_start\":0,\"reps_done\":0,\"status\":\"0x0\",\"outcome\":\"done\"}");
  EXPECT_NE(tracer.captured()[1].find("\"status\":\"0x2\""), std::string::npos);
}

// ---- debug loopback through the dispatcher --------------------------------------------------------

TEST_F(HypercallDispatcherTest, DebugCallsLoopBackWhenEnabled) {
  config.debugging = true;
  mem.put(kIn, HvPostDebugDataInput{4, 0});
  mem.put<uint32_t>(kIn + 8, 0x64636261);  // "abcd"
  call(ctl(HVCALL_POST_DEBUG_DATA));
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(mem.get<uint32_t>(kOut), 4u);  // pending count
  EXPECT_EQ(dispatcher->debug_pending(), 4u);

  mem.put(kIn, HvRetrieveDebugDataInput{3, 0, 0});
  call(ctl(HVCALL_RETRIEVE_DEBUG_DATA), kIn, kOut + 0x100);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(mem.get<uint32_t>(kOut + 0x100), 3u);  // retrieved
  EXPECT_EQ(mem.get<uint32_t>(kOut + 0x104), 1u);  // remaining
  EXPECT_EQ(mem.get<uint32_t>(kOut + 0x108) & 0xffffff, 0x636261u);

  call(ctl(HVCALL_POST_DEBUG_DATA, true));  // runs to the page end: no fast form
  EXPECT_EQ(status(), HV_STATUS_INVALID_HYPERCALL_INPUT);

  mem.put(kIn, HvResetDebugSessionInput{0, 0});
  mem.put(kOut, HvResetDebugSessionOutput{1, 1, 1, 1, {1}, {1}});
  call(ctl(HVCALL_RESET_DEBUG_SESSION));
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(mem.get<uint64_t>(kOut), 0u);
  EXPECT_EQ(dispatcher->debug_pending(), 0u);

  mem.put(kIn, HvPostDebugDataInput{2, 0});
  call(ctl(HVCALL_POST_DEBUG_DATA));
  dispatcher->reset();
  EXPECT_EQ(dispatcher->debug_pending(), 0u);
}

TEST_F(HypercallDispatcherTest, DebugDataBoundedByTheInputPage) {
  config.debugging = true;
  mem.put(kIn + 0xff0, HvPostDebugDataInput{9, 0});  // 8 bytes of data fit before the page end
  call(ctl(HVCALL_POST_DEBUG_DATA), kIn + 0xff0);
  EXPECT_EQ(status(), HV_STATUS_INVALID_PARAMETER);
  mem.put(kIn + 0xff0, HvPostDebugDataInput{8, 0});
  call(ctl(HVCALL_POST_DEBUG_DATA), kIn + 0xff0);
  EXPECT_EQ(status(), HV_STATUS_SUCCESS);
  EXPECT_EQ(dispatcher->debug_pending(), 8u);
}

}  // namespace
}  // namespace hvsim::hv
