// The scenario parser: a valid file becomes the expected typed values, and every class of mistake
// is a UsageError naming the file, the exact JSON pointer and what was expected.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/devices/instance_id.h"
#include "sim/core/status.h"
#include "sim/scenario/scenario_spec.h"
#include "tests/support/usage_error.h"

namespace hvsim::scenario {
namespace {

using nlohmann::json;

json valid() {
  return json::parse(R"({
    "schema": 1,
    "description": "d",
    "machine": {"guest": "g.elf", "vcpus": 2, "memory": "128M", "host": "ws2022", "seed": 7, "quantum": 5000,
                "tsc_hz": 3000000000, "apic_hz": 100000000, "max_time": "3s", "ap_start": "parked"},
    "devices": [{"type": "heartbeat", "params": {"period": "100ms"}}, {"type": "shutdown"},
                {"type": "test", "name": "t1", "params": {"queue": 8}, "offered": false}],
    "vmbus": {"retarget_lag": "200us", "monitor_latency": "0", "throttle": {"threshold": 64, "window": "1ms", "suspend": "1s"}},
    "timeline": [
      {"at": "1ms", "do": "offer", "device": "t1"},
      {"at": "1ms", "do": "push", "device": "t1", "payload_hex": "0aFF"},
      {"at": "2ms", "do": "rescind_relid", "relid": 3},
      {"at": "3ms", "do": "change_tsc_frequency", "hz": 2500000000},
      {"at": "4ms", "do": "set_retarget_lag", "lag": "50us"},
      {"at": "5ms", "do": "set_throttle", "threshold": 0},
      {"at": "6ms", "do": "shutdown", "device": "shutdown", "flags": 2},
      {"at": "7ms", "do": "rescind", "device": "heartbeat"}
    ],
    "expect": [
      {"exit_code": 3},
      {"trace": "vmbus.channel", "where": {"state": "released", "relid": 1, "ok": true}, "count": 2, "before": "2s",
       "after": "1ms", "after_trace": {"trace": "vmbus.msg_out", "where": {"type": "ALLOFFERS_DELIVERED"}}, "name": "n"},
      {"trace": "vmbus.signal", "min": 3},
      {"trace": "vmbus.signal", "max": 4},
      {"never": "vmbus.protocol_error"},
      {"no_crash": true},
      {"ends_before": "5s"}
    ]
  })");
}

Scenario parse(const json& j) { return parse_scenario(j.dump(), "s.json"); }

// The UsageError message parsing `text` gives ("" if it parses).
std::string error_of_text(const std::string& text) {
  return test::usage_error_of([&] { parse_scenario(text, "s.json"); });
}
std::string error_of(const json& j) { return error_of_text(j.dump()); }

TEST(ScenarioSpec, AValidFileBecomesTypedValues) {
  Scenario s = parse(valid());
  EXPECT_EQ(s.file, "s.json");
  EXPECT_EQ(s.description, "d");
  EXPECT_EQ(s.guest, "g.elf");
  EXPECT_EQ(s.machine.vcpus, 2u);
  EXPECT_EQ(s.machine.memory, 128ull << 20);
  EXPECT_EQ(s.machine.host, "ws2022");
  EXPECT_EQ(s.machine.seed, 7u);
  EXPECT_EQ(s.machine.quantum, 5000u);
  EXPECT_EQ(s.machine.tsc_hz, 3000000000u);
  EXPECT_EQ(s.machine.apic_hz, 100000000u);
  EXPECT_EQ(s.machine.max_time, VirtualTime::from_ms(3000));
  EXPECT_TRUE(s.machine.aps_parked);
  EXPECT_EQ(s.machine.retarget_lag, VirtualTime::from_us(200));
  EXPECT_EQ(s.machine.monitor_latency, VirtualTime{});
  EXPECT_EQ(s.machine.throttle.threshold, 64u);
  EXPECT_EQ(s.machine.throttle.window, VirtualTime::from_ms(1));
  EXPECT_EQ(s.machine.throttle.suspend, VirtualTime::from_ms(1000));

  ASSERT_EQ(s.devices.size(), 3u);
  EXPECT_EQ(s.devices[0].name, "heartbeat");
  EXPECT_EQ(s.devices[0].params.at("period"), "100ms");
  EXPECT_TRUE(s.devices[0].offered);
  EXPECT_EQ(s.devices[2].name, "t1");
  EXPECT_EQ(s.devices[2].type, "test");
  EXPECT_EQ(s.devices[2].params.at("queue"), "8");
  EXPECT_FALSE(s.devices[2].offered);
  EXPECT_EQ(s.devices[2].pointer, "/devices/2");

  ASSERT_EQ(s.timeline.size(), 8u);
  EXPECT_EQ(s.timeline[1].pointer, "/timeline/1");
  EXPECT_EQ(std::get<AtTrigger>(s.timeline[1].when.trigger).at, VirtualTime::from_ms(1));
  EXPECT_EQ(s.timeline[1].when.repeat.count, 1u);
  EXPECT_EQ(std::get<PushAction>(s.timeline[1].action).payload, (std::vector<uint8_t>{0x0a, 0xff}));
  EXPECT_EQ(std::get<RescindRelidAction>(s.timeline[2].action).relid, 3u);
  EXPECT_EQ(std::get<ChangeTscFrequencyAction>(s.timeline[3].action).hz, 2500000000u);
  EXPECT_EQ(std::get<SetRetargetLagAction>(s.timeline[4].action).lag, VirtualTime::from_us(50));
  EXPECT_EQ(std::get<SetThrottleAction>(s.timeline[5].action).policy.threshold, 0u);
  EXPECT_EQ(std::get<ShutdownAction>(s.timeline[6].action).flags, 2u);
  EXPECT_EQ(describe(s.timeline[7].action), "rescind heartbeat");
  EXPECT_EQ(describe(s.timeline[1].action), "push t1 (2 bytes)");

  ASSERT_EQ(s.expectations.size(), 7u);
  EXPECT_EQ(std::get<ExitCodeExpectation>(s.expectations[0].what).code, 3u);
  const auto& t = std::get<TraceExpectation>(s.expectations[1].what);
  EXPECT_EQ(s.expectations[1].name, "n");
  EXPECT_EQ(t.select.point, TracePoint::kVmbusChannel);
  ASSERT_EQ(t.select.where.size(), 3u);
  EXPECT_EQ(t.select.where[0].first, "ok");  // key order
  EXPECT_EQ(t.min, 2u);
  EXPECT_EQ(t.max, 2u);
  EXPECT_EQ(t.before, VirtualTime::from_ms(2000));
  EXPECT_EQ(t.after, VirtualTime::from_ms(1));
  ASSERT_TRUE(t.after_trace);
  EXPECT_EQ(t.after_trace->point, TracePoint::kVmbusMsgOut);
  const auto& min_only = std::get<TraceExpectation>(s.expectations[2].what);
  EXPECT_EQ(min_only.min, 3u);
  EXPECT_EQ(min_only.max, UINT64_MAX);
  const auto& max_only = std::get<TraceExpectation>(s.expectations[3].what);
  EXPECT_EQ(max_only.min, 0u);
  EXPECT_EQ(max_only.max, 4u);
  const auto& never = std::get<TraceExpectation>(s.expectations[4].what);
  EXPECT_TRUE(never.never);
  EXPECT_EQ(never.max, 0u);
  EXPECT_TRUE(std::holds_alternative<NoCrashExpectation>(s.expectations[5].what));
  EXPECT_EQ(std::get<EndsBeforeExpectation>(s.expectations[6].what).limit, VirtualTime::from_ms(5000));
}

TEST(ScenarioSpec, DefaultsAreThoseOfHvsimRun) {
  Scenario s = parse(json{{"schema", 1}, {"machine", {{"guest", "g.elf"}}}});
  MachineParams d;
  EXPECT_EQ(s.machine.vcpus, d.vcpus);
  EXPECT_EQ(s.machine.max_time, d.max_time);
  EXPECT_EQ(s.machine.host, d.host);
  ASSERT_EQ(s.devices.size(), 3u) << "hvsim run's default devices";
  EXPECT_EQ(s.devices[0].name, "heartbeat");
  EXPECT_EQ(s.devices[1].name, "shutdown");
  EXPECT_EQ(s.devices[2].name, "timesync");
  EXPECT_TRUE(s.timeline.empty());
  EXPECT_TRUE(s.expectations.empty());
  json no_limit = {{"schema", 1}, {"machine", {{"guest", "g.elf"}, {"max_time", "0"}}}, {"devices", json::array()}};
  Scenario n = parse(no_limit);
  EXPECT_EQ(n.machine.max_time, VirtualTime::max());
  EXPECT_TRUE(n.devices.empty());
}

TEST(ScenarioSpec, SyntaxErrorsNameLineAndColumn) {
  std::string e = error_of_text("{\n  \"schema\": 1,\n  \"machine\": {\"guest\": \"g\",}\n}");
  EXPECT_EQ(e.rfind("s.json: not valid JSON: ", 0), 0u) << e;
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
}

TEST(ScenarioSpec, ARepeatedKeyIsNamedByItsPointer) {
  EXPECT_EQ(error_of_text(R"({"schema": 1, "machine": {"guest": "a", "guest": "b"}})"),
            "s.json: /machine/guest: key \"guest\" appears twice in one object");
  EXPECT_EQ(error_of_text(R"({"schema": 1, "machine": {"guest": "a"}, "expect": [{"never": "run.start"}, {"trace": "x", "trace": "y"}]})"),
            "s.json: /expect/1/trace: key \"trace\" appears twice in one object");
}

TEST(ScenarioSpec, UnknownKeysAreRejectedAtEveryLevel) {
  struct Case {
    const char* pointer;  // where to add key "bogus"
    const char* expected_path;
  };
  for (Case c : {Case{"", "/bogus"}, Case{"/machine", "/machine/bogus"}, Case{"/devices/1", "/devices/1/bogus"},
                 Case{"/vmbus", "/vmbus/bogus"}, Case{"/vmbus/throttle", "/vmbus/throttle/bogus"},
                 Case{"/timeline/2", "/timeline/2/bogus"}, Case{"/expect/1", "/expect/1/bogus"},
                 Case{"/expect/1/after_trace", "/expect/1/after_trace/bogus"}}) {
    json j = valid();
    j[json::json_pointer(c.pointer)]["bogus"] = 1;
    std::string e = error_of(j);
    EXPECT_EQ(e.rfind(std::string("s.json: ") + c.expected_path + ": unknown key; expected one of: ", 0), 0u) << e;
  }
  json j = valid();
  j["timeline"][0]["hz"] = 5;  // a key of another action
  EXPECT_EQ(error_of(j), "s.json: /timeline/0/hz: unknown key; expected one of: id, at, on, after_insns, after, reaches, reads, delay, repeat, do, device");
  j = valid();
  j["expect"][4]["count"] = 0;  // never takes no count
  EXPECT_EQ(error_of(j).rfind("s.json: /expect/4/count: unknown key", 0), 0u) << error_of(j);
}

TEST(ScenarioSpec, WrongTypesAndRangesNameThePointerAndTheValue) {
  struct Case {
    const char* pointer;
    json value;
    const char* message;
  };
  const Case cases[] = {
      {"/timeline/2/at", 12, "s.json: /timeline/2/at: expected a duration like \"1500us\" (an integer and ns, us, ms or s), got 12"},
      {"/timeline/2/at", "1.5ms", "s.json: /timeline/2/at: expected a duration like \"1500us\" (an integer and ns, us, ms or s), got \"1.5ms\""},
      {"/machine/vcpus", 65, "s.json: /machine/vcpus: expected an integer from 1 to 64, got 65"},
      {"/machine/vcpus", "2", "s.json: /machine/vcpus: expected an integer from 1 to 64, got \"2\""},
      {"/machine/seed", -1, "s.json: /machine/seed: expected an integer from 0 to 18446744073709551615, got -1"},
      {"/machine/guest", 5, "s.json: /machine/guest: expected a string, got 5"},
      {"/machine/memory", "64Q", "s.json: /machine/memory: expected a size like \"64M\" or \"1G\" (4M to 3G, a multiple of 2M), got \"64Q\""},
      {"/machine/ap_start", "some", "s.json: /machine/ap_start: expected one of all, parked, got \"some\""},
      {"/devices/0/offered", "yes", "s.json: /devices/0/offered: expected true or false, got \"yes\""},
      {"/devices/0/params/period", 1.5, "s.json: /devices/0/params/period: expected a string or a non-negative integer, got 1.5"},
      {"/devices/0/type", "floppy", "s.json: /devices/0/type: expected a device type: one of heartbeat, shutdown, timesync, kvp, test, got \"floppy\""},
      {"/devices/2/name", "t 1", "s.json: /devices/2/name: expected a device name of letters, digits, '_' and '-', got \"t 1\""},
      {"/vmbus/throttle/window", "0", "s.json: /vmbus/throttle/window: expected a non-zero duration, got \"0\""},
      {"/timeline/1/payload_hex", "abc", "s.json: /timeline/1/payload_hex: expected an even number of hex digits (at most 65536 bytes), e.g. \"0a1b\", got \"abc\""},
      {"/timeline/1/payload_hex", "zz", "s.json: /timeline/1/payload_hex: expected an even number of hex digits (at most 65536 bytes), e.g. \"0a1b\", got \"zz\""},
      {"/timeline/2/relid", 0, "s.json: /timeline/2/relid: expected an integer from 1 to 4294967295, got 0"},
      {"/timeline/3/hz", 10, "s.json: /timeline/3/hz: expected an integer from 1000000 to 100000000000, got 10"},
      {"/timeline/0/do", "explode", "s.json: /timeline/0/do: expected one of offer, rescind, rescind_relid, push, change_tsc_frequency, set_retarget_lag, set_throttle, shutdown, kvp, send_message, send_offer, send_raw, withhold, delay, clear_response_control, inject_packet, inject_inband, rewrite_packet, rewrite_message, set_fault, got \"explode\""},
      {"/expect/0/exit_code", "0", "s.json: /expect/0/exit_code: expected an integer from 0 to 4294967295, got \"0\""},
      {"/expect/1/where/relid", 1.0, "s.json: /expect/1/where/relid: expected a string, an integer, a boolean or {\"contains\": \"text\"}, got 1.0"},
      {"/expect/1/trace", "vmbus.chanel", "s.json: /expect/1/trace: expected a trace point name from sim/core/trace_points.def, e.g. \"vmbus.channel\", got \"vmbus.chanel\""},
      {"/expect/1/after_trace/trace", "nope", "s.json: /expect/1/after_trace/trace: expected a trace point name from sim/core/trace_points.def, e.g. \"vmbus.channel\", got \"nope\""},
      {"/expect/5/no_crash", false, "s.json: /expect/5/no_crash: expected true (to expect a crash, use trace run.verdict with where {\"verdict\": \"crash\"}), got false"},
      {"/schema", 2, "s.json: /schema: expected 1 (the scenario format version this hvsim reads), got 2"},
      {"/timeline", json::object(), "s.json: /timeline: expected an array, got {}"},
      {"/expect/2", 3, "s.json: /expect/2: expected an object, got 3"},
  };
  for (const Case& c : cases) {
    json j = valid();
    j[json::json_pointer(c.pointer)] = c.value;
    EXPECT_EQ(error_of(j), c.message) << c.pointer;
  }
  EXPECT_EQ(error_of_text("[1]"), "s.json: (top level): expected a scenario object, got [1]");
}

TEST(ScenarioSpec, MachineValuesAreCheckedByTheMachinesOwnRules) {
  json j = valid();
  j["machine"]["memory"] = "5M";
  EXPECT_EQ(error_of(j), "s.json: /machine/memory: must be 4 MiB to 3 GiB in steps of 2 MiB, got 5242880 bytes");
  j = valid();
  j["machine"]["host"] = "ws1999";
  EXPECT_EQ(error_of(j).rfind("s.json: /machine/host: ", 0), 0u) << error_of(j);
  EXPECT_NE(error_of(j).find("ws1999"), std::string::npos) << error_of(j);
  j = valid();
  j["machine"]["hv"] = "hv-warp";
  EXPECT_EQ(error_of(j).rfind("s.json: /machine/hv: ", 0), 0u) << error_of(j);
  j = valid();
  j["machine"]["vcpus"] = 1;  // ap_start parked needs 2
  EXPECT_EQ(error_of(j), "s.json: /machine/ap_start: \"parked\" needs vcpus 2 or more");
}

TEST(ScenarioSpec, MissingKeysAreNamed) {
  json j = valid();
  j["machine"].erase("guest");
  EXPECT_EQ(error_of(j), "s.json: /machine: missing key \"guest\"");
  j = valid();
  j["timeline"][2].erase("at");
  EXPECT_EQ(error_of(j), "s.json: /timeline/2: missing a trigger: one of \"at\", \"on\", \"after_insns\", \"after\", \"reaches\", \"reads\"");
  j = valid();
  j["timeline"][2].erase("do");
  EXPECT_EQ(error_of(j), "s.json: /timeline/2: missing key \"do\"");
  j = valid();
  j.erase("schema");
  EXPECT_EQ(error_of(j), "s.json: (top level): missing key \"schema\"");
}

TEST(ScenarioSpec, ActionsMustNameAnExistingDeviceOfTheRightType) {
  json j = valid();
  j["timeline"][0]["device"] = "nic";
  EXPECT_EQ(error_of(j), "s.json: /timeline/0/device: expected the name of a device in /devices (heartbeat, shutdown, t1), got \"nic\"");
  j = valid();
  j["timeline"][1]["device"] = "heartbeat";
  EXPECT_EQ(error_of(j), "s.json: /timeline/1/device: device \"heartbeat\" (/devices/0) has type heartbeat; this action needs a test device");
  j = valid();
  j["timeline"][6]["device"] = "t1";
  EXPECT_EQ(error_of(j), "s.json: /timeline/6/device: device \"t1\" (/devices/2) has type test; this action needs a shutdown device");
}

TEST(ScenarioSpec, TheTimelineIsInTimeOrder) {
  json j = valid();
  j["timeline"][3]["at"] = "1500us";
  EXPECT_EQ(error_of(j), "s.json: /timeline/3/at: expected a time at or after the previous at entry's (2ms); at entries are in time order, got \"1500us\"");
}

TEST(ScenarioSpec, TriggersBecomeTypedValues) {
  json j = valid();
  j["timeline"] = json::parse(R"([
    {"id": "open2", "on": {"trace": "vmbus.msg_in", "where": {"type": "OPENCHANNEL"}, "nth": 2}, "delay": "5us",
     "do": "rescind", "device": "heartbeat"},
    {"after_insns": {"vp": 1, "count": 100000}, "do": "set_retarget_lag", "lag": "1us"},
    {"after": "open2", "delay": "50us", "repeat": {"every": "100us", "count": 3}, "do": "push", "device": "t1", "payload_hex": "00"},
    {"at": "3ms", "do": "offer", "device": "t1"},
    {"on": {"trace": "run.start"}, "do": "offer", "device": "t1"}
  ])");
  Scenario s = parse(j);
  ASSERT_EQ(s.timeline.size(), 5u);
  EXPECT_EQ(s.timeline[0].id, "open2");
  const auto& on = std::get<TraceTrigger>(s.timeline[0].when.trigger);
  EXPECT_EQ(on.select.point, TracePoint::kVmbusMsgIn);
  EXPECT_EQ(on.nth, 2u);
  EXPECT_EQ(s.timeline[0].when.delay, VirtualTime::from_us(5));
  EXPECT_EQ(std::get<InsnTrigger>(s.timeline[1].when.trigger).vp, 1u);
  EXPECT_EQ(std::get<InsnTrigger>(s.timeline[1].when.trigger).count, 100000u);
  const auto& after = std::get<AfterTrigger>(s.timeline[2].when.trigger);
  EXPECT_EQ(after.entry, 0u);
  EXPECT_EQ(s.timeline[2].when.repeat.count, 3u);
  EXPECT_EQ(s.timeline[2].when.repeat.every, VirtualTime::from_us(100));
  EXPECT_EQ(std::get<TraceTrigger>(s.timeline[4].when.trigger).nth, 1u) << "nth defaults to 1";
  EXPECT_EQ(describe(s.timeline[0].when), "on the 2nd vmbus.msg_in where {\"type\":\"OPENCHANNEL\"} + 5us");
  EXPECT_EQ(describe(s.timeline[1].when), "after 100000 instructions on vp1");
  EXPECT_EQ(describe(s.timeline[2].when), "50us after open2, 3 times every 100us");
  EXPECT_EQ(describe(s.timeline[3].when), "at 3ms");
}

TEST(ScenarioSpec, WhereTakesContainsMatchersInTriggersAndExpectations) {
  json j = valid();
  j["timeline"] = json::parse(R"([
    {"on": {"trace": "console.line", "where": {"text": {"contains": "class heartbeat"}}}, "do": "offer", "device": "t1"}
  ])");
  j["expect"][1]["where"] = json::parse(R"({"text": {"contains": "open failed"}, "vp": 0})");
  j["expect"][1]["trace"] = "console.line";
  Scenario s = parse(j);
  const auto& on = std::get<TraceTrigger>(s.timeline[0].when.trigger);
  ASSERT_EQ(on.select.where.size(), 1u);
  EXPECT_EQ(on.select.where[0].second, json::parse(R"({"contains": "class heartbeat"})"));
  const auto& t = std::get<TraceExpectation>(s.expectations[1].what);
  ASSERT_EQ(t.select.where.size(), 2u);
  EXPECT_EQ(t.select.where[0].second, json::parse(R"({"contains": "open failed"})"));
  EXPECT_EQ(t.select.where[1].second, 0);
  EXPECT_EQ(describe(s.timeline[0].when), "on the 1st console.line where {\"text\":{\"contains\":\"class heartbeat\"}}");
}

TEST(ScenarioSpec, BadTriggersNameThePointer) {
  struct Case {
    const char* entry;
    const char* error;
  };
  const Case cases[] = {
      {R"({"at": "1ms", "on": {"trace": "run.start"}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0: a timeline entry has exactly one trigger of at, on, after_insns, after, reaches, reads; this one has at and on"},
      {R"({"on": {"trace": "vmbus.nothing"}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/trace: expected a trace point name from sim/core/trace_points.def, e.g. \"vmbus.channel\", got \"vmbus.nothing\""},
      {R"({"on": {"trace": "run.start", "nth": 0}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/nth: expected an integer from 1 to 18446744073709551615, got 0"},
      {R"({"on": {"trace": "run.start", "when": 1}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/when: unknown key; expected one of: trace, where, nth"},
      {R"({"on": {"trace": "vmbus.channel", "where": {"relid": 1.5}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/where/relid: expected a string, an integer, a boolean or {\"contains\": \"text\"}, got 1.5"},
      {R"({"on": {"trace": "console.line", "where": {"text": {"contains": ""}}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/where/text/contains: expected a non-empty string, got \"\""},
      {R"({"on": {"trace": "console.line", "where": {"text": {"contains": 3}}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/where/text/contains: expected a string, got 3"},
      {R"({"on": {"trace": "console.line", "where": {"text": {"prefix": "x"}}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/where/text/prefix: unknown key; expected one of: contains"},
      {R"({"on": {"trace": "console.line", "where": {"text": {}}}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/on/where/text: missing key \"contains\""},
      {R"({"after_insns": {"vp": 2, "count": 10}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/after_insns/vp: expected an integer from 0 to 1, got 2"},
      {R"({"after_insns": {"vp": 0}, "do": "offer", "device": "t1"})", "s.json: /timeline/0/after_insns: missing key \"count\""},
      {R"({"at": "1ms", "delay": "1us", "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/delay: delay needs a trigger other than at (write the time into at)"},
      {R"({"at": "1ms", "repeat": {"every": "0", "count": 2}, "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/repeat/every: expected a non-zero duration, got \"0\""},
      {R"({"at": "1ms", "repeat": {"every": "1ms"}, "do": "offer", "device": "t1"})", "s.json: /timeline/0/repeat: missing key \"count\""},
      {R"({"after": "nobody", "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/after: expected the id of another timeline entry, got \"nobody\""},
      {R"({"id": "bad id", "at": "1ms", "do": "offer", "device": "t1"})",
       "s.json: /timeline/0/id: expected an id of letters, digits, '_' and '-', got \"bad id\""},
  };
  for (const Case& c : cases) {
    json j = valid();
    j["timeline"] = json::array({json::parse(c.entry)});
    EXPECT_EQ(error_of(j), c.error) << c.entry;
  }
}

TEST(ScenarioSpec, AfterReferencesMustNotRepeatIdsOrFormCycles) {
  json j = valid();
  j["timeline"] = json::parse(R"([
    {"id": "a", "at": "1ms", "do": "offer", "device": "t1"},
    {"id": "a", "at": "2ms", "do": "offer", "device": "t1"}])");
  EXPECT_EQ(error_of(j), "s.json: /timeline/1/id: id \"a\" is already used by /timeline/0");
  j["timeline"] = json::parse(R"([
    {"id": "root", "at": "1ms", "do": "offer", "device": "t1"},
    {"id": "x", "after": "z", "do": "offer", "device": "t1"},
    {"id": "y", "after": "x", "do": "offer", "device": "t1"},
    {"id": "z", "after": "y", "do": "offer", "device": "t1"}])");
  EXPECT_EQ(error_of(j), "s.json: /timeline/1/after: a cycle of after references (x -> z -> y -> x): none of these entries could ever run");
  j["timeline"] = json::parse(R"([{"id": "self", "after": "self", "do": "offer", "device": "t1"}])");
  EXPECT_EQ(error_of(j), "s.json: /timeline/0/after: a cycle of after references (self -> self): none of these entries could ever run");
  j["timeline"] = json::parse(R"([
    {"id": "x", "after": "root", "do": "offer", "device": "t1"},
    {"id": "root", "at": "1ms", "do": "offer", "device": "t1"}])");
  EXPECT_EQ(error_of(j), "") << "an entry may name a later one";
}

TEST(ScenarioSpec, FieldPatchesApplyBeforeValidation) {
  const std::string text = valid().dump();
  Scenario s = parse_scenario(text, "s.json", {{"/vmbus/retarget_lag", "500us"}, {"/machine/seed", "9"}, {"/timeline/7/at", "8ms"}});
  EXPECT_EQ(s.machine.retarget_lag, VirtualTime::from_us(500));
  EXPECT_EQ(s.machine.seed, 9u);
  EXPECT_EQ(std::get<AtTrigger>(s.timeline[7].when.trigger).at, VirtualTime::from_ms(8));
  s = parse_scenario(text, "s.json", {{"/machine/hv", "hv-synic,hv-vpindex"}, {"/devices/0/params/period", "7ms"}});
  EXPECT_EQ(s.machine.hv, "hv-synic,hv-vpindex") << "a missing member of an existing object is added";
  EXPECT_EQ(s.devices[0].params.at("period"), "7ms");
  auto error = [&](FieldPatch p) { return test::usage_error_of([&] { parse_scenario(text, "s.json", {p}); }); };
  EXPECT_EQ(error({"/machine/vcpus", "two"}), "s.json: --set /machine/vcpus: /machine/vcpus holds a number; expected a non-negative integer, got 'two'");
  EXPECT_EQ(error({"/machine/vcpus", "99"}), "s.json: /machine/vcpus: expected an integer from 1 to 64, got 99") << "then validated as usual";
  EXPECT_EQ(error({"/nope/x", "1"}), "s.json: --set /nope/x: /nope does not exist");
  EXPECT_EQ(error({"/timeline/8/at", "1ms"}), "s.json: --set /timeline/8/at: /timeline/8 does not exist (/timeline has 8 elements)");
  EXPECT_EQ(error({"/devices/2/offered", "true"}), "s.json: --set /devices/2/offered: /devices/2/offered holds a boolean; only numbers and strings can be set");
  EXPECT_EQ(error({"/machine/vcpus/x", "1"}), "s.json: --set /machine/vcpus/x: /machine/vcpus is not an object or an array");
  EXPECT_EQ(error({"/a~2", "1"}), "s.json: --set /a~2: '~' must be followed by 0 or 1 in a JSON pointer");
  EXPECT_EQ(parse_field_patch("/vmbus/retarget_lag=0us..1ms").value, "0us..1ms");
  try {
    parse_field_patch("vmbus=1");
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--set: expected /json/pointer=VALUE (e.g. /vmbus/retarget_lag=500us), got 'vmbus=1'");
  }
}

// A scenario with a kvp device "k" and `entry` as its only timeline entry.
json with_kvp_entry(const json& entry) {
  json j = valid();
  j["devices"].push_back({{"type", "kvp"}, {"name", "k"}});
  j["timeline"] = json::array({entry});
  return j;
}

TEST(ScenarioSpec, KvpActionsBecomeRequests) {
  json j = valid();
  j["devices"].push_back({{"type", "kvp"}, {"name", "k"}, {"params", {{"timeout", "1s"}}}});
  j["timeline"] = json::parse(R"([
    {"at": "1ms", "do": "kvp", "device": "k", "op": "set", "pool": "guest", "key": "Na\u00efve", "value": "v"},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "set", "pool": 4, "key": "n", "value_type": "u64", "value": 18446744073709551615},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "get", "pool": "auto_external", "key": "n"},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "delete", "pool": 0, "key": "n"},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "enumerate", "pool": "auto"},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "enumerate", "pool": "auto", "index": 4294967295},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "get_ip_info", "adapter_id": "00:15:5D:00:00:01"},
    {"at": "1ms", "do": "kvp", "device": "k", "op": "get_ip_info"}
  ])");
  Scenario s = parse(j);
  ASSERT_EQ(s.timeline.size(), 8u);
  auto req = [&](size_t i) { return std::get<KvpAction>(s.timeline[i].action).request; };
  EXPECT_EQ(std::get<KvpAction>(s.timeline[0].action).device, "k");
  EXPECT_EQ(req(0).op, devices::kvp::kOpSet);
  EXPECT_EQ(req(0).pool, devices::kvp::kPoolGuest);
  EXPECT_EQ(req(0).key, "Na\xC3\xAFve");
  EXPECT_EQ(req(0).value_type, devices::kvp::kRegSz);
  EXPECT_EQ(req(0).value, "v");
  EXPECT_EQ(req(1).pool, devices::kvp::kPoolAutoInternal);
  EXPECT_EQ(req(1).value_type, devices::kvp::kRegU64);
  EXPECT_EQ(req(1).number, UINT64_MAX);
  EXPECT_EQ(req(2).op, devices::kvp::kOpGet);
  EXPECT_EQ(req(2).pool, devices::kvp::kPoolAutoExternal);
  EXPECT_EQ(req(3).op, devices::kvp::kOpDelete);
  EXPECT_FALSE(req(4).index.has_value());
  EXPECT_EQ(req(5).index, UINT32_MAX);
  EXPECT_EQ(req(6).adapter_id, "00:15:5D:00:00:01");
  EXPECT_EQ(req(7).adapter_id, "");
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(devices::check_kvp_request(req(i)), "") << i;
  EXPECT_EQ(describe(s.timeline[0].action), "kvp k set guest \"Na\xC3\xAFve\"");
  EXPECT_EQ(describe(s.timeline[4].action), "kvp k enumerate auto (all)");
  EXPECT_EQ(describe(s.timeline[5].action), "kvp k enumerate auto index 4294967295");
  EXPECT_EQ(describe(s.timeline[6].action), "kvp k get_ip_info \"00:15:5D:00:00:01\"");
}

TEST(ScenarioSpec, BadKvpActionsNameThePointer) {
  const json get = {{"at", "1ms"}, {"do", "kvp"}, {"device", "k"}, {"op", "get"}, {"pool", "auto"}, {"key", "K"}};
  auto with = [&](std::initializer_list<std::pair<const char*, json>> changes, std::initializer_list<const char*> erase = {}) {
    json e = get;
    for (const auto& [k, v] : changes) e[k] = v;
    for (const char* k : erase) e.erase(k);
    return e;
  };
  const std::string pools = "one of \"external\", \"guest\", \"auto\", \"auto_external\", \"auto_internal\"";
  const std::pair<json, std::string> cases[] = {
      {with({{"op", "put"}}), "s.json: /timeline/0/op: expected one of get, set, delete, enumerate, get_ip_info, got \"put\""},
      {with({}, {"op"}), "s.json: /timeline/0: missing key \"op\""},
      {with({{"pool", 5}}), "s.json: /timeline/0/pool: expected a pool: 0 to 4, or " + pools + ", got 5"},
      {with({{"pool", "Auto"}}), "s.json: /timeline/0/pool: expected a pool: 0 to 4, or " + pools + ", got \"Auto\""},
      {with({}, {"pool"}), "s.json: /timeline/0: missing key \"pool\""},
      {with({}, {"key"}), "s.json: /timeline/0: missing key \"key\""},
      {with({{"key", ""}}), "s.json: /timeline/0/key: expected a key of 1 to 255 UTF-16 code units (a string), got \"\""},
      {with({{"key", std::string(256, 'k')}}),  // the value shown is cut to 57 characters
       "s.json: /timeline/0/key: expected a key of 1 to 255 UTF-16 code units (a string), got \"" + std::string(56, 'k') + "..."},
      {with({{"key", 7}}), "s.json: /timeline/0/key: expected a key of 1 to 255 UTF-16 code units (a string), got 7"},
      {with({{"index", 1}}), "s.json: /timeline/0/index: op \"get\" takes no index (its fields: pool, key)"},
      {with({{"op", "enumerate"}}), "s.json: /timeline/0/key: op \"enumerate\" takes no key (its fields: pool, index)"},
      {with({{"op", "enumerate"}, {"index", -1}}, {"key"}),
       "s.json: /timeline/0/index: expected an integer from 0 to 4294967295, got -1"},
      {with({{"op", "get_ip_info"}}, {"key"}),
       "s.json: /timeline/0/pool: op \"get_ip_info\" takes no pool (its fields: adapter_id)"},
      {with({{"op", "get_ip_info"}, {"adapter_id", std::string(128, 'a')}}, {"key", "pool"}),
       "s.json: /timeline/0/adapter_id: expected an adapter id of 0 to 127 UTF-16 code units (a string), got \"" +
           std::string(56, 'a') + "..."},
      {with({{"op", "set"}}), "s.json: /timeline/0: missing key \"value\""},
      {with({{"op", "set"}, {"value", 5}}),
       "s.json: /timeline/0/value: expected a string value of 0 to 1023 UTF-16 code units (a string), got 5"},
      {with({{"op", "set"}, {"value_type", "dword"}, {"value", 5}}),
       "s.json: /timeline/0/value_type: expected one of string, u32, u64, got \"dword\""},
      {with({{"op", "set"}, {"value_type", "u32"}, {"value", "42"}}),
       "s.json: /timeline/0/value: expected an integer from 0 to 4294967295, got \"42\""},
      {with({{"op", "set"}, {"value_type", "u32"}, {"value", 4294967296ull}}),
       "s.json: /timeline/0/value: expected an integer from 0 to 4294967295, got 4294967296"},
      {with({{"op", "delete"}, {"value", "v"}}), "s.json: /timeline/0/value: op \"delete\" takes no value (its fields: pool, key)"},
      {with({{"device", "shutdown"}}),
       "s.json: /timeline/0/device: device \"shutdown\" (/devices/1) has type shutdown; this action needs a kvp device"},
  };
  for (const auto& [entry, message] : cases) EXPECT_EQ(error_of(with_kvp_entry(entry)), message) << entry.dump();
  const std::string unknown = error_of(with_kvp_entry(with({{"flags", 1}})));
  EXPECT_EQ(unknown.rfind("s.json: /timeline/0/flags: unknown key; expected one of: ", 0), 0u) << unknown;
  EXPECT_NE(unknown.find("adapter_id"), std::string::npos) << unknown;
}

TEST(ScenarioSpec, DevicesAreCheckedBeforeAnythingRuns) {
  json j = valid();
  j["devices"][0]["params"]["perod"] = "1s";
  std::string e = error_of(j);
  EXPECT_EQ(e.rfind("s.json: /devices/0/params: ", 0), 0u) << e;
  EXPECT_NE(e.find("perod"), std::string::npos) << e;
  j = valid();
  j["devices"][1]["name"] = "heartbeat";
  EXPECT_EQ(error_of(j), "s.json: /devices/1/name: device name \"heartbeat\" is already used by /devices/0 (give each device of one type its own name)");
  j = valid();
  j["devices"].push_back({{"type", "shutdown"}});
  EXPECT_EQ(error_of(j), "s.json: /devices/3/type: device name \"shutdown\" is already used by /devices/1 (give each device of one type its own name)");
}

TEST(ScenarioSpec, DevicesMayNameTheirInstanceGuidAndRingLimits) {
  json j = valid();
  j["devices"][0]["instance"] = "12345678-9abc-4ef0-8234-56789ABCDEF0";
  j["devices"][0]["ring_pages"] = {{"min", 4}, {"max", 64}};
  j["devices"][2]["ring_pages"] = {{"max", 8}};
  Scenario s = parse(j);
  EXPECT_EQ(s.devices[0].params.at("instance"), "12345678-9abc-4ef0-8234-56789ABCDEF0");
  EXPECT_EQ(s.devices[0].params.at("ring_pages_min"), "4");
  EXPECT_EQ(s.devices[0].params.at("ring_pages_max"), "64");
  EXPECT_EQ(s.devices[2].params.count("ring_pages_min"), 0u);
  EXPECT_EQ(s.devices[2].params.at("ring_pages_max"), "8");

  struct Case {
    const char* pointer;
    json value;
    std::string message;
  };
  const std::string derived = vmbus::guid_string(devices::derive_instance_id(7, "heartbeat"));  // seed 7 in valid()
  const Case cases[] = {
      {"/devices/0/instance", "12345678-9abc-4ef0-8234-56789abcdef",
       "s.json: /devices/0/instance: expected an instance GUID \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\" (hex digits), got \"12345678-9abc-4ef0-8234-56789abcdef\""},
      {"/devices/0/instance", 5,
       "s.json: /devices/0/instance: expected an instance GUID \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\" (hex digits), got 5"},
      {"/devices/2/instance", derived,
       "s.json: /devices/2/instance: instance GUID " + derived + " is already the instance GUID of /devices/0"},
      {"/devices/0/ring_pages", {{"min", 1}}, "s.json: /devices/0/ring_pages/min: expected an integer from 2 to 4294967295, got 1"},
      {"/devices/0/ring_pages", {{"min", 8}, {"max", 4}}, "s.json: /devices/0/ring_pages/max: expected a maximum at least min (8), got 4"},
      {"/devices/0/params/instance", "12345678-9abc-4ef0-8234-56789abcdef0",
       "s.json: /devices/0/params/instance: write this as the device's own key: \"instance\": \"GUID\""},
      {"/devices/0/params/ring_pages_max", "8",
       "s.json: /devices/0/params/ring_pages_max: write this as the device's own key: \"ring_pages\": {\"max\": N}"},
  };
  for (const Case& c : cases) {
    j = valid();
    j[json::json_pointer(c.pointer)] = c.value;
    EXPECT_EQ(error_of(j), c.message) << c.pointer;
  }
  j = valid();
  j["devices"][0]["instance"] = "12345678-9abc-4ef0-8234-56789abcdef0";
  j["devices"][1]["instance"] = "12345678-9ABC-4EF0-8234-56789abcdef0";
  EXPECT_EQ(error_of(j), "s.json: /devices/1/instance: instance GUID 12345678-9abc-4ef0-8234-56789abcdef0 is already the "
                         "instance GUID of /devices/0");
  j = valid();
  j["devices"][0]["ring_pages"] = {{"mid", 3}};
  EXPECT_NE(error_of(j).find("/devices/0/ring_pages/mid: unknown key"), std::string::npos) << error_of(j);
}

TEST(ScenarioSpec, AnExpectationHasExactlyOneKind) {
  json j = valid();
  j["expect"][0]["never"] = "run.start";
  EXPECT_EQ(error_of(j), "s.json: /expect/0: an expectation has exactly one of exit_code, trace, never, no_crash, ends_before; this one has exit_code and never");
  j = valid();
  j["expect"][0] = {{"name", "x"}};
  EXPECT_EQ(error_of(j), "s.json: /expect/0: expected an expectation with one of exit_code, trace, never, no_crash, ends_before, got {\"name\":\"x\"}");
  j = valid();
  j["expect"][2]["count"] = 1;
  EXPECT_EQ(error_of(j), "s.json: /expect/2/count: count cannot be combined with min or max");
  j = valid();
  j["expect"][2]["max"] = 2;
  EXPECT_EQ(error_of(j), "s.json: /expect/2/max: expected a maximum at least min (3), got 2");
  j = valid();
  j["expect"][1]["trace"] = "cpu.block";
  EXPECT_EQ(error_of(j), "s.json: /expect/1/trace: cpu.block is a verbose trace point expectations do not see");
}

TEST(ScenarioSpec, PointerSegmentsAreEscaped) {
  json j = valid();
  j["expect"][1]["where"]["a/b~c"] = 1.5;
  EXPECT_EQ(error_of(j), "s.json: /expect/1/where/a~1b~0c: expected a string, an integer, a boolean or {\"contains\": \"text\"}, got 1.5");
}

TEST(ScenarioSpec, AnUnreadableFileIsAUsageError) {
  try {
    load_scenario("/nonexistent/s.json");
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/s.json: cannot read the scenario file");
  }
}

}  // namespace
}  // namespace hvsim::scenario
