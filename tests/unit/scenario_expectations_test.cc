// Expectation evaluation over canned trace lines: counting and windows, `where` matching by type,
// the verdict expectations, which expectations cover which ending, and failure messages that say
// where in the trace to look.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim/scenario/expectations.h"

namespace hvsim::scenario {
namespace {

using nlohmann::json;

// Lines 1..6 of a run's trace; times in ps.
TraceLog canned_log() {
  TraceLog log;
  const char* lines[] = {
      R"({"t":1000,"ev":"vmbus.channel","relid":1,"device":"heartbeat","state":"offered"})",
      R"({"t":2000,"vp":0,"ev":"vmbus.msg_out","type":"ALLOFFERS_DELIVERED","size":8})",
      R"({"t":3000,"ev":"vmbus.channel","relid":1,"device":"heartbeat","state":"open"})",
      R"({"t":4000,"vp":1,"ev":"vmbus.signal","dir":"host->guest","relid":1,"old_target":true})",
      R"({"t":5000,"ev":"vmbus.channel","relid":1,"device":"heartbeat","state":"rescinded"})",
      R"({"t":6000,"ev":"vmbus.channel","relid":1,"device":"heartbeat","state":"released"})",
      "not json",                                        // ignored
      R"({"t":7000,"ev":"no.such.point"})",              // ignored
  };
  uint64_t line = 0;
  for (const char* l : lines) log.add(++line, l);
  return log;
}

TraceSelector select(TracePoint p, std::vector<std::pair<std::string, json>> where = {}) { return TraceSelector{p, std::move(where)}; }

Expectation trace(TraceSelector s, uint64_t min = 1, uint64_t max = UINT64_MAX) {
  TraceExpectation t;
  t.select = std::move(s);
  t.min = min;
  t.max = max;
  return Expectation{"/expect/0", "", t};
}

Expectation never(TraceSelector s) {
  TraceExpectation t;
  t.select = std::move(s);
  t.min = t.max = 0;
  t.never = true;
  return Expectation{"/expect/0", "", t};
}

RunEnd ended(Verdict::Kind kind, uint32_t code = 0, uint64_t end_ms = 100) {
  Verdict v;
  v.kind = kind;
  v.exit_code = code;
  if (kind == Verdict::Kind::kCrash) v.message = "#PF at rip 0x1000";
  return RunEnd{v, VirtualTime::from_ms(end_ms)};
}

CheckResult eval(const Expectation& e, const TraceLog& log) { return evaluate(e, log, ended(Verdict::Kind::kExit)); }

TEST(ScenarioExpectations, TheLogKeepsOnlyWellFormedRecordsOfKnownPoints) {
  TraceLog log = canned_log();
  ASSERT_EQ(log.records().size(), 6u);
  EXPECT_EQ(log.records()[3].line, 4u);
  EXPECT_EQ(log.records()[3].t, VirtualTime::from_ps(4000));
  EXPECT_EQ(log.records()[3].point, TracePoint::kVmbusSignal);
}

TEST(ScenarioExpectations, WhereMatchesTopLevelFieldsByTypeAndValue) {
  TraceLog log = canned_log();
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusChannel, {{"state", "released"}})), log).held);
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusChannel, {{"relid", 1}, {"state", "open"}}), 1, 1), log).held);
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusSignal, {{"old_target", true}, {"vp", 1}})), log).held);
  EXPECT_FALSE(eval(trace(select(TracePoint::kVmbusSignal, {{"old_target", false}})), log).held);
  EXPECT_FALSE(eval(trace(select(TracePoint::kVmbusChannel, {{"relid", "1"}})), log).held) << "a string is not a number";
  EXPECT_FALSE(eval(trace(select(TracePoint::kVmbusChannel, {{"missing", 1}})), log).held);
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusChannel), 4, 4), log).held) << "no where: every record of the point";
}

TEST(ScenarioExpectations, ContainsMatchesStringFieldsHoldingTheText) {
  TraceLog log = canned_log();
  auto contains = [](const char* text) { return json{{"contains", text}}; };
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusChannel, {{"state", contains("leas")}}), 1, 1), log).held)
      << "released, inside the word";
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusChannel, {{"device", contains("heartbeat")}}), 4, 4), log).held)
      << "the whole value";
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusMsgOut, {{"type", contains("ALLOFFERS")}, {"size", 8}}), 1, 1), log).held)
      << "combined with equality";
  EXPECT_FALSE(eval(trace(select(TracePoint::kVmbusChannel, {{"state", contains("Released")}})), log).held) << "case matters";
  EXPECT_FALSE(eval(trace(select(TracePoint::kVmbusChannel, {{"relid", contains("1")}})), log).held) << "a number is no string";
  EXPECT_FALSE(eval(trace(select(TracePoint::kVmbusChannel, {{"missing", contains("x")}})), log).held);
  CheckResult r = eval(trace(select(TracePoint::kVmbusChannel, {{"state", contains("gone")}})), log);
  EXPECT_EQ(r.description, "trace vmbus.channel where {\"state\":{\"contains\":\"gone\"}}");
}

TEST(ScenarioExpectations, CountsAreExactOrBounded) {
  TraceLog log = canned_log();
  TraceSelector ch = select(TracePoint::kVmbusChannel);
  EXPECT_FALSE(eval(trace(ch, 3, 3), log).held);
  EXPECT_FALSE(eval(trace(ch, 5), log).held);
  EXPECT_TRUE(eval(trace(ch, 0, 4), log).held);
  EXPECT_FALSE(eval(trace(ch, 0, 3), log).held);
  EXPECT_TRUE(eval(trace(select(TracePoint::kVmbusProtocol), 0, 0), log).held);
  EXPECT_TRUE(eval(never(select(TracePoint::kVmbusProtocol)), log).held);
  EXPECT_FALSE(eval(never(select(TracePoint::kVmbusSignal)), log).held);
}

TEST(ScenarioExpectations, WindowsNarrowTheRecordsCounted) {
  TraceLog log = canned_log();
  Expectation e = trace(select(TracePoint::kVmbusChannel), 2, 2);
  auto& t = std::get<TraceExpectation>(e.what);
  t.after = VirtualTime::from_ps(3000);  // at or after
  t.before = VirtualTime::from_ps(6000);  // strictly before: open and rescinded
  EXPECT_TRUE(eval(e, log).held);
  t.before = VirtualTime::from_ps(6001);
  EXPECT_FALSE(eval(e, log).held);

  Expectation a = trace(select(TracePoint::kVmbusChannel), 3, 3);
  std::get<TraceExpectation>(a.what).after_trace = select(TracePoint::kVmbusMsgOut, {{"type", "ALLOFFERS_DELIVERED"}});
  EXPECT_TRUE(eval(a, log).held) << "open, rescinded, released come after line 2";

  Expectation n = never(select(TracePoint::kVmbusChannel, {{"state", "open"}}));
  std::get<TraceExpectation>(n.what).after_trace = select(TracePoint::kVmbusChannel, {{"state", "rescinded"}});
  EXPECT_TRUE(eval(n, log).held);
}

TEST(ScenarioExpectations, AMissingAfterTraceAnchorFails) {
  TraceLog log = canned_log();
  Expectation n = never(select(TracePoint::kVmbusProtocol));
  std::get<TraceExpectation>(n.what).after_trace = select(TracePoint::kVmbusMsgOut, {{"type", "UNLOAD_RESPONSE"}});
  CheckResult r = eval(n, log);
  EXPECT_FALSE(r.held);
  EXPECT_EQ(r.why, "the after_trace record (vmbus.msg_out where {\"type\":\"UNLOAD_RESPONSE\"}) never occurred");
}

TEST(ScenarioExpectations, FailuresSayWhereInTheTraceToLook) {
  TraceLog log = canned_log();
  CheckResult too_many = eval(never(select(TracePoint::kVmbusChannel, {{"state", "released"}})), log);
  EXPECT_EQ(too_many.pointer, "/expect/0");
  EXPECT_EQ(too_many.description, "never vmbus.channel where {\"state\":\"released\"}");
  EXPECT_EQ(too_many.why, std::string("expected none, found 1 matching record; first at trace line 6 (t=0.000000006s): ") +
                              R"({"t":6000,"ev":"vmbus.channel","relid":1,"device":"heartbeat","state":"released"})");

  CheckResult excess = eval(trace(select(TracePoint::kVmbusChannel), 1, 2), log);
  EXPECT_NE(excess.why.find("expected 1 to 2, found 4 matching records; the one too many at trace line 5 "), std::string::npos)
      << excess.why;

  // None matches: the record closest to `where` is shown.
  CheckResult closest = eval(trace(select(TracePoint::kVmbusChannel, {{"device", "heartbeat"}, {"state", "closed"}})), log);
  EXPECT_NE(closest.why.find("expected at least 1, found 0 matching records; 4 vmbus.channel records did not match where; "
                             "the closest is at trace line 1 "),
            std::string::npos)
      << closest.why;

  Expectation windowed = trace(select(TracePoint::kVmbusChannel, {{"state", "released"}}));
  std::get<TraceExpectation>(windowed.what).before = VirtualTime::from_ps(5000);
  CheckResult outside = eval(windowed, log);
  EXPECT_EQ(outside.description, "trace vmbus.channel where {\"state\":\"released\"} before 5ns");
  EXPECT_NE(outside.why.find("the first match outside the window is at trace line 6 "), std::string::npos) << outside.why;

  CheckResult few = eval(trace(select(TracePoint::kVmbusChannel), 5, 5), log);
  EXPECT_NE(few.why.find("expected exactly 5, found 4 matching records; the last at trace line 6 "), std::string::npos) << few.why;

  CheckResult none = eval(trace(select(TracePoint::kVmbusThrottle)), log);
  EXPECT_EQ(none.why, "expected at least 1, found 0 matching records; the trace has no vmbus.throttle record at all");

  Expectation named = never(select(TracePoint::kVmbusSignal));
  named.name = "no interrupts";
  EXPECT_EQ(eval(named, log).description, "no interrupts");
}

TEST(ScenarioExpectations, VerdictExpectations) {
  TraceLog log;
  Expectation exit3{"/expect/0", "", ExitCodeExpectation{3}};
  EXPECT_TRUE(evaluate(exit3, log, ended(Verdict::Kind::kExit, 3)).held);
  CheckResult wrong = evaluate(exit3, log, ended(Verdict::Kind::kExit, 0));
  EXPECT_FALSE(wrong.held);
  EXPECT_EQ(wrong.why, "the run ended at 100ms with verdict exit(0)");
  EXPECT_FALSE(evaluate(exit3, log, ended(Verdict::Kind::kCrash)).held);

  Expectation no_crash{"/expect/1", "", NoCrashExpectation{}};
  EXPECT_TRUE(evaluate(no_crash, log, ended(Verdict::Kind::kWatchdog)).held);
  CheckResult crashed = evaluate(no_crash, log, ended(Verdict::Kind::kCrash));
  EXPECT_FALSE(crashed.held);
  EXPECT_EQ(crashed.why, "the run ended at 100ms with verdict crash (#PF at rip 0x1000)");

  Expectation ends{"/expect/2", "", EndsBeforeExpectation{VirtualTime::from_ms(100)}};
  EXPECT_TRUE(evaluate(ends, log, ended(Verdict::Kind::kExit, 0, 99)).held);
  EXPECT_FALSE(evaluate(ends, log, ended(Verdict::Kind::kExit, 0, 100)).held) << "strictly before";
  EXPECT_EQ(describe(ends), "ends_before 100ms");
}

TEST(ScenarioExpectations, WhichExpectationsCoverWhichEnding) {
  using K = Verdict::Kind;
  Expectation exit0{"", "", ExitCodeExpectation{0}};
  Expectation no_crash{"", "", NoCrashExpectation{}};
  Expectation ends{"", "", EndsBeforeExpectation{VirtualTime::from_ms(1)}};
  Expectation on_verdict = trace(select(TracePoint::kVerdict, {{"verdict", "crash"}}));
  Expectation other = never(select(TracePoint::kVmbusProtocol));
  for (K k : {K::kExit, K::kCrash, K::kWatchdog, K::kReset}) {
    EXPECT_TRUE(covers_verdict(exit0, k));
    EXPECT_TRUE(covers_verdict(on_verdict, k));
    EXPECT_FALSE(covers_verdict(other, k));
    EXPECT_EQ(covers_verdict(no_crash, k), k == K::kCrash);
    EXPECT_EQ(covers_verdict(ends, k), k == K::kWatchdog);
  }
}

TEST(ScenarioExpectations, TracePointsAreFoundByName) {
  EXPECT_EQ(trace_point_named("vmbus.ring_rule"), TracePoint::kVmbusRuleViolation);
  EXPECT_EQ(trace_point_named("run.verdict"), TracePoint::kVerdict);
  EXPECT_FALSE(trace_point_named("vmbus"));
}

}  // namespace
}  // namespace hvsim::scenario
