// The fault-injection timeline actions (sim/scenario/fault_actions.h, scenarios/README.md "Fault
// injection actions"): each parses into its typed value, each class of mistake is a UsageError
// naming the JSON pointer, and each kind runs against a real guest (vmbus_demo / vmbus_echo) with
// a visible effect in the trace, or is refused when the host cannot apply it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim/core/status.h"
#include "sim/scenario/scenario_runner.h"
#include "tests/support/usage_error.h"

namespace hvsim::scenario {
namespace {

using json = nlohmann::json;

json with_action(const json& action, const std::string& guest = "vmbus_demo") {
  return json{{"schema", 1},
              {"machine", {{"guest", "${HVSIM_GUEST_DIR}/" + guest + ".elf"}, {"vcpus", 2}, {"max_time", "3s"}}},
              {"devices", json::array({{{"type", "heartbeat"}},
                                       {{"type", "shutdown"}, {"params", {{"at", "1s"}}}},
                                       {{"type", "test"}, {"name", "t1"}}})},
              {"timeline", json::array({action})}};
}

const Action& only_action(const Scenario& s) { return s.timeline.at(0).action; }

template <typename T>
T parsed(const json& action) {
  Scenario s = parse_scenario(with_action(action).dump(), "s.json");
  const auto* f = std::get_if<FaultAction>(&only_action(s));
  EXPECT_NE(f, nullptr);
  const T* t = f ? std::get_if<T>(f) : nullptr;
  EXPECT_NE(t, nullptr);
  return t ? *t : T{};
}

std::string error_of(const json& action) {
  return test::usage_error_of([&] { parse_scenario(with_action(action).dump(), "s.json"); });
}

TEST(ScenarioFaultActions, EveryActionBecomesItsTypedValue) {
  auto m = parsed<SendMessageAction>({{"at", "1ms"}, {"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"},
                                      {"fields", {{"child_relid", 99}}}, {"size", 16}});
  EXPECT_EQ(m.type, vmbus::MsgType::kRescindChannelOffer);
  EXPECT_EQ(m.fields, (std::map<std::string, uint64_t>{{"child_relid", 99}}));
  EXPECT_EQ(m.size, std::optional<size_t>(16));

  auto o = parsed<SendOfferAction>({{"at", "1ms"}, {"do", "send_offer"}, {"device", "t1"}, {"fields", {{"child_relid", 7}}}});
  EXPECT_EQ(o.device, "t1");
  EXPECT_EQ(o.fields.at("child_relid"), 7u);
  EXPECT_FALSE(o.size.has_value());

  EXPECT_EQ(parsed<SendRawAction>({{"at", "1ms"}, {"do", "send_raw"}, {"hex", "0200000000000000"}}).bytes,
            (std::vector<uint8_t>{2, 0, 0, 0, 0, 0, 0, 0}));

  auto w = parsed<WithholdAction>({{"at", "1ms"}, {"do", "withhold"}, {"response", "OPENCHANNEL_RESULT"}, {"count", "all"}});
  EXPECT_EQ(w.response, vmbus::MsgType::kOpenChannelResult);
  EXPECT_EQ(w.count, vmbus::VmbusHost::kUntilCleared);
  EXPECT_EQ(parsed<WithholdAction>({{"at", "1ms"}, {"do", "withhold"}, {"response", "GPADL_CREATED"}}).count, 1u);

  auto d = parsed<DelayAction>({{"at", "1ms"}, {"do", "delay"}, {"response", "GPADL_CREATED"}, {"by", "500us"}, {"count", 3}});
  EXPECT_EQ(d.response, vmbus::MsgType::kGpadlCreated);
  EXPECT_EQ(d.by, VirtualTime::from_us(500));
  EXPECT_EQ(d.count, 3u);

  EXPECT_FALSE(parsed<ClearResponseControlAction>({{"at", "1ms"}, {"do", "clear_response_control"}}).response);
  EXPECT_EQ(parsed<ClearResponseControlAction>({{"at", "1ms"}, {"do", "clear_response_control"}, {"response", "UNLOAD_RESPONSE"}}).response,
            std::optional(vmbus::MsgType::kUnloadResponse));

  auto p = parsed<InjectPacketAction>({{"at", "1ms"}, {"do", "inject_packet"}, {"device", "heartbeat"}, {"hex", "0601"}});
  EXPECT_EQ(p.device, "heartbeat");
  EXPECT_EQ(p.bytes, (std::vector<uint8_t>{6, 1}));

  auto i = parsed<InjectInbandAction>({{"at", "1ms"}, {"do", "inject_inband"}, {"device", "t1"}, {"payload_hex", "ab"},
                                       {"trans_id", 5}, {"flags", 1}});
  EXPECT_EQ(i.payload, std::vector<uint8_t>{0xab});
  EXPECT_EQ(i.trans_id, 5u);
  EXPECT_EQ(i.flags, 1u);

  auto r = parsed<RewritePacketAction>({{"at", "1ms"}, {"do", "rewrite_packet"}, {"device", "t1"}, {"offset", 16}, {"hex", "ff"}});
  EXPECT_EQ(r.offset, 16u);
  EXPECT_EQ(r.bytes, std::vector<uint8_t>{0xff});

  auto rm = parsed<RewriteMessageAction>({{"at", "1ms"}, {"do", "rewrite_message"}, {"offset", 0}, {"hex", "02000000"}, {"rewrite_after", "10us"}});
  EXPECT_EQ(rm.after, VirtualTime::from_us(10));
  EXPECT_EQ(rm.bytes.size(), 4u);

  auto f = parsed<SetFaultAction>({{"at", "1ms"}, {"do", "set_fault"}, {"point", "drop_signal"}, {"probability", "1/10"}, {"seed", 9}});
  EXPECT_EQ(f.point, "drop_signal");
  EXPECT_EQ(f.num, 1u);
  EXPECT_EQ(f.den, 10u);
  EXPECT_EQ(f.seed, std::optional<uint64_t>(9));
  EXPECT_FALSE(parsed<SetFaultAction>({{"at", "1ms"}, {"do", "set_fault"}, {"point", "busy_outbox"}, {"probability", "0/1"}}).seed);
}

TEST(ScenarioFaultActions, MistakesNameThePointer) {
  struct Case {
    json action;
    const char* message;
  };
  const json at = {{"at", "1ms"}};
  auto a = [&](json extra) {
    json j = at;
    j.update(extra);
    return j;
  };
  const Case cases[] = {
      {a({{"do", "send_message"}, {"type", "RESCIND"}}),
       "s.json: /timeline/0/type: expected a message type name: one of INVALID, OFFERCHANNEL, RESCIND_CHANNELOFFER"},
      {a({{"do", "send_message"}, {"type", 2}}), "s.json: /timeline/0/type: expected a message type name"},
      {a({{"do", "send_message"}}), "s.json: /timeline/0: missing key \"type\""},
      {a({{"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"fields", {{"relid", 1}}}}),
       "s.json: /timeline/0/fields/relid: message RESCIND_CHANNELOFFER has no field 'relid' (valid: msgtype, header_padding, child_relid)"},
      {a({{"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"fields", {{"child_relid", 4294967296ull}}}}),
       "s.json: /timeline/0/fields/child_relid: value 4294967296 does not fit the 4-byte field 'child_relid'"},
      {a({{"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"fields", {{"child_relid", "1"}}}}),
       "s.json: /timeline/0/fields/child_relid: expected an integer from 0 to 18446744073709551615, got \"1\""},
      {a({{"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"fields", json::array()}}),
       "s.json: /timeline/0/fields: expected an object of message fields"},
      {a({{"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"size", 241}}),
       "s.json: /timeline/0/size: expected an integer from 1 to 240, got 241"},
      {a({{"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"device", "t1"}}),
       "s.json: /timeline/0/device: unknown key"},
      {a({{"do", "send_offer"}, {"device", "nic"}}), "s.json: /timeline/0/device: expected the name of a device in /devices"},
      {a({{"do", "send_offer"}, {"device", "t1"}, {"fields", {{"if_type", 1}}}}),
       "s.json: /timeline/0/fields/if_type: message OFFERCHANNEL has no field 'if_type'"},
      {a({{"do", "send_raw"}, {"hex", ""}}), "s.json: /timeline/0/hex: expected an even number of hex digits (1 to 240 bytes)"},
      {a({{"do", "send_raw"}, {"hex", std::string(482, '0')}}), "s.json: /timeline/0/hex: expected an even number of hex digits (1 to 240 bytes)"},
      {a({{"do", "send_raw"}, {"hex", "0g"}}), "s.json: /timeline/0/hex: expected an even number of hex digits"},
      {a({{"do", "withhold"}, {"response", "OPENCHANNEL_RESULT"}, {"count", 0}}),
       "s.json: /timeline/0/count: expected an integer from 1 to 4294967294, or \"all\", got 0"},
      {a({{"do", "withhold"}, {"response", "OPENCHANNEL_RESULT"}, {"count", "some"}}),
       "s.json: /timeline/0/count: expected an integer from 1 to 4294967294, or \"all\", got \"some\""},
      {a({{"do", "withhold"}}), "s.json: /timeline/0: missing key \"response\""},
      {a({{"do", "delay"}, {"response", "GPADL_CREATED"}, {"by", "0"}}), "s.json: /timeline/0/by: expected a non-zero duration, got \"0\""},
      {a({{"do", "delay"}, {"response", "GPADL_CREATED"}, {"by", 5}}), "s.json: /timeline/0/by: expected a duration like"},
      {a({{"do", "clear_response_control"}, {"response", "NOPE"}}), "s.json: /timeline/0/response: expected a message type name"},
      {a({{"do", "inject_packet"}, {"device", "t1"}}), "s.json: /timeline/0: missing key \"hex\""},
      {a({{"do", "inject_packet"}, {"device", "t2"}, {"hex", "00"}}), "s.json: /timeline/0/device: expected the name of a device in /devices"},
      {a({{"do", "inject_inband"}, {"device", "t1"}, {"flags", 65536}}),
       "s.json: /timeline/0/flags: expected an integer from 0 to 65535, got 65536"},
      {a({{"do", "inject_inband"}, {"device", "t1"}, {"trans_id", -1}}), "s.json: /timeline/0/trans_id: expected an integer"},
      {a({{"do", "rewrite_packet"}, {"device", "t1"}, {"offset", -1}, {"hex", "00"}}), "s.json: /timeline/0/offset: expected an integer"},
      {a({{"do", "rewrite_packet"}, {"device", "t1"}, {"offset", 0}, {"hex", ""}}),
       "s.json: /timeline/0/hex: expected an even number of hex digits (1 to 65536 bytes)"},
      {a({{"do", "rewrite_message"}, {"offset", 240}, {"hex", "00"}}), "s.json: /timeline/0/offset: expected an integer from 0 to 239, got 240"},
      {a({{"do", "rewrite_message"}, {"offset", 0}, {"hex", "00"}, {"rewrite_after", "soon"}}), "s.json: /timeline/0/rewrite_after: expected a duration like"},
      {a({{"do", "set_fault"}, {"point", "drop_packet"}, {"probability", "1/2"}}),
       "s.json: /timeline/0/point: expected one of drop_signal, delay_drain, busy_outbox, got \"drop_packet\""},
      {a({{"do", "set_fault"}, {"point", "drop_signal"}, {"probability", "2/1"}}), "s.json: /timeline/0/probability: expected a probability"},
      {a({{"do", "set_fault"}, {"point", "drop_signal"}, {"probability", "1/0"}}), "s.json: /timeline/0/probability: expected a probability"},
      {a({{"do", "set_fault"}, {"point", "drop_signal"}, {"probability", "1/99999999999"}}), "s.json: /timeline/0/probability: expected a probability"},
      {a({{"do", "set_fault"}, {"point", "drop_signal"}, {"probability", 0.5}}), "s.json: /timeline/0/probability: expected a probability"},
      {a({{"do", "set_fault"}, {"point", "drop_signal"}, {"probability", "1/2"}, {"seed", "x"}}), "s.json: /timeline/0/seed: expected an integer"},
  };
  for (const Case& c : cases) {
    std::string err = error_of(c.action);
    EXPECT_EQ(err.rfind(c.message, 0), 0u) << c.action.dump() << "\n got: " << err;
  }
}

TEST(ScenarioFaultActions, DescribeNamesTheActionAndItsArguments) {
  Scenario s = parse_scenario(
      with_action({{"at", "1ms"}, {"do", "withhold"}, {"response", "OPENCHANNEL_RESULT"}, {"count", "all"}}).dump(), "s.json");
  EXPECT_EQ(describe(only_action(s)), "withhold OPENCHANNEL_RESULT all");
  s = parse_scenario(with_action({{"at", "1ms"}, {"do", "set_fault"}, {"point", "drop_signal"}, {"probability", "1/10"}}).dump(), "s.json");
  EXPECT_EQ(describe(only_action(s)), "set_fault drop_signal 1/10");
}

// --- runs on real guests ---

class ScenarioFaultRunTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("HVSIM_GUEST_DIR", HVSIM_GUEST_DIR, 1); }

  // Runs `doc` with `expect` and returns the report.
  static ScenarioReport run(json doc, const json& expect) {
    doc["expect"] = expect;
    Scenario s = parse_scenario(doc.dump(), "/scenarios/s.json");
    ScenarioRunner runner(s, {{"--no-console", ""}});
    return runner.run();
  }
  static void expect_all_held(const ScenarioReport& r) {
    for (const CheckResult& c : r.actions) EXPECT_TRUE(c.held) << c.pointer << ": " << c.why;
    for (const CheckResult& c : r.expectations) EXPECT_TRUE(c.held) << c.pointer << ": " << c.why;
    EXPECT_EQ(r.status, 0);
  }
};

TEST_F(ScenarioFaultRunTest, SendMessageAndSendRawReachTheGuest) {
  json doc = with_action({{"at", "500ms"}, {"do", "send_message"}, {"type", "RESCIND_CHANNELOFFER"}, {"fields", {{"child_relid", 4000}}}});
  doc["timeline"].push_back({{"at", "600ms"}, {"do", "send_raw"}, {"hex", "02000000000000009f0f0000"}});
  expect_all_held(run(doc, {{{"exit_code", 0}},
                            {{"trace", "vmbus.msg_out"}, {"where", {{"type", "RESCIND_CHANNELOFFER"}, {"injected", true}}}, {"count", 2}},
                            {{"trace", "console.line"},
                             {"where", {{"text", "vmbus: protocol error: RESCIND_CHANNELOFFER with child_relid out of range (0xfa0), ignored"}}},
                             {"count", 1}},
                            {{"trace", "console.line"},
                             {"where", {{"text", "vmbus: protocol error: RESCIND_CHANNELOFFER with child_relid out of range (0xf9f), ignored"}}},
                             {"count", 1}}}));
}

TEST_F(ScenarioFaultRunTest, SendOfferResendsTheDevicesOfferUnderItsRelid) {
  // A second offer for an offered relid: the guest reports the duplicate and keeps its channel.
  json doc = with_action({{"at", "500ms"}, {"do", "send_offer"}, {"device", "heartbeat"}});
  ScenarioReport r = run(doc, {{{"exit_code", 0}},
                               {{"trace", "vmbus.msg_out"}, {"where", {{"type", "OFFERCHANNEL"}, {"injected", true}}}, {"count", 1}},
                               {{"trace", "console.line"},
                                {"where", {{"text", "vmbus: protocol error: OFFERCHANNEL for a relid already in use (0x1), ignored"}}},
                                {"count", 1}},
                               {{"trace", "vmbus.channel"}, {"where", {{"device", "heartbeat"}, {"state", "closed"}, {"why", "guest"}}}, {"count", 1}}});
  expect_all_held(r);
}

TEST_F(ScenarioFaultRunTest, WithholdDelayAndClearShapeTheResponses) {
  json doc = with_action({{"at", "0"}, {"do", "delay"}, {"response", "GPADL_CREATED"}, {"by", "300us"}, {"count", "all"}});
  doc["timeline"].push_back({{"at", "200ms"}, {"do", "clear_response_control"}, {"response", "GPADL_CREATED"}});
  doc["timeline"].push_back({{"at", "200ms"}, {"do", "withhold"}, {"response", "UNLOAD_RESPONSE"}, {"count", 1}});
  doc["timeline"].push_back({{"at", "300ms"}, {"do", "clear_response_control"}});
  ScenarioReport r = run(doc, {{{"exit_code", 0}},
                               {{"trace", "vmbus.msg_out"}, {"where", {{"type", "GPADL_CREATED"}, {"fault", "delayed"}}}, {"min", 2}},
                               {{"trace", "vmbus.msg_out"}, {"where", {{"type", "GPADL_CREATED"}, {"fault", "released"}}}, {"min", 2}},
                               {{"never", "vmbus.msg_out"}, {"where", {{"fault", "withheld"}}}}});
  expect_all_held(r);
}

TEST_F(ScenarioFaultRunTest, InjectedPacketsReachTheDevicesChannelAndAbsentChannelsRefuse) {
  json doc = with_action({{"at", "500ms"}, {"do", "inject_inband"}, {"device", "heartbeat"}, {"payload_hex", "00"}, {"trans_id", 77}});
  doc["timeline"].push_back({{"at", "600ms"}, {"do", "inject_packet"}, {"device", "heartbeat"}, {"hex", "0601"}});
  doc["timeline"].push_back({{"at", "600ms"}, {"do", "inject_packet"}, {"device", "t1"}, {"hex", "0601"}});  // vmbus_demo never opens t1
  ScenarioReport r = run(doc, {{{"exit_code", 0}}});
  ASSERT_EQ(r.actions.size(), 3u);
  EXPECT_TRUE(r.actions[0].held) << r.actions[0].why;
  EXPECT_TRUE(r.actions[1].held) << r.actions[1].why;
  EXPECT_FALSE(r.actions[2].held);
  EXPECT_NE(r.actions[2].why.find("refused"), std::string::npos) << r.actions[2].why;
  EXPECT_EQ(r.status, 1);
}

TEST_F(ScenarioFaultRunTest, RewritesAreArmedOrRefused) {
  // rewrite_packet of the heartbeat's last request (its channel is open and has had a packet);
  // rewrite_message of the last SynIC message; t1 has no channel: refused.
  json doc = with_action({{"at", "500ms"}, {"do", "rewrite_packet"}, {"device", "heartbeat"}, {"offset", 0}, {"hex", "06"}});
  doc["timeline"].push_back({{"at", "500ms"}, {"do", "rewrite_message"}, {"offset", 0}, {"hex", "01"}, {"rewrite_after", "10us"}});
  doc["timeline"].push_back({{"at", "500ms"}, {"do", "rewrite_packet"}, {"device", "t1"}, {"offset", 0}, {"hex", "06"}});
  ScenarioReport r = run(doc, {{{"no_crash", true}},
                               {{"trace", "vmbus.device"}, {"where", {{"event", "rewrite_packet"}, {"result", "armed"}}}, {"count", 1}},
                               {{"trace", "vmbus.msg_out"}, {"where", {{"fault", "rewrite_message"}}}, {"count", 1}}});
  ASSERT_EQ(r.actions.size(), 3u);
  EXPECT_TRUE(r.actions[0].held) << r.actions[0].why;
  EXPECT_TRUE(r.actions[1].held) << r.actions[1].why;
  EXPECT_FALSE(r.actions[2].held);
  for (const CheckResult& c : r.expectations) EXPECT_TRUE(c.held) << c.pointer << ": " << c.why;
}

TEST_F(ScenarioFaultRunTest, SetFaultArmsASeededFaultPoint) {
  json doc = with_action({{"at", "0"}, {"do", "set_fault"}, {"point", "busy_outbox"}, {"probability", "1/1"}, {"seed", 3}});
  ScenarioReport r = run(doc, {{{"exit_code", 0}}, {{"trace", "vmbus.msg_out"}, {"where", {{"fault", "busy_outbox"}}}, {"min", 5}}});
  expect_all_held(r);
  json off = with_action({{"at", "0"}, {"do", "set_fault"}, {"point", "busy_outbox"}, {"probability", "0/1"}});
  expect_all_held(run(off, {{{"exit_code", 0}}, {{"never", "vmbus.msg_out"}, {"where", {{"fault", "busy_outbox"}}}}}));
}

}  // namespace
}  // namespace hvsim::scenario
