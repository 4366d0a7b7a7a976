// Scenario expectations and their evaluation against a finished run.
//
// A run is judged from its verdict, its end time and the trace records the expectations name
// (TraceLog: JSON lines as the tracer formats them, each with its 1-based line number in the
// run's trace — the line of a --trace file written with the default filter). A trace selector
// picks records by trace point name ("ev") and `where`: top-level fields equal to the given
// strings, integers or booleans, or for a value {"contains": TEXT} string fields with TEXT in
// them. Evaluation never throws; each expectation gives a CheckResult
// whose `why` says what was found and where in the trace ("trace line 345 (t=1500us): {...}").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/core/trace.h"
#include "sim/machine/machine.h"

namespace hvsim::scenario {

struct TraceSelector {
  TracePoint point = TracePoint::kRunStart;
  // Key order; values: string, integer, boolean (equal), or {"contains": TEXT} (a string holding TEXT).
  std::vector<std::pair<std::string, nlohmann::json>> where;
};

struct ExitCodeExpectation { uint32_t code = 0; };
// Matching records within the window [after, before) and after the first `after_trace` record:
// between min and max of them (`never`: max 0).
struct TraceExpectation {
  TraceSelector select;
  uint64_t min = 1, max = UINT64_MAX;
  std::optional<VirtualTime> before, after;
  std::optional<TraceSelector> after_trace;
  bool never = false;
};
struct NoCrashExpectation {};
struct EndsBeforeExpectation { VirtualTime limit; };
using ExpectationKind = std::variant<ExitCodeExpectation, TraceExpectation, NoCrashExpectation, EndsBeforeExpectation>;

struct Expectation {
  std::string pointer;  // "/expect/N"
  std::string name;     // optional label from the file
  ExpectationKind what;
};

// One trace record an expectation may look at.
struct TraceRecord {
  uint64_t line = 0;
  VirtualTime t;
  TracePoint point = TracePoint::kRunStart;
  nlohmann::json fields;  // the whole record as an object
  std::string text;       // the JSON line
};

class TraceLog {
 public:
  // Adds a record; a line that is not a JSON object with "t" and a known "ev" is ignored.
  void add(uint64_t line, std::string_view json_line);
  const std::vector<TraceRecord>& records() const { return records_; }

 private:
  std::vector<TraceRecord> records_;
};

struct RunEnd {
  Verdict verdict;
  VirtualTime end;  // virtual time of the verdict
};

struct CheckResult {
  std::string pointer;      // "/expect/N" or "/timeline/N"
  std::string description;  // what was checked, one line
  bool held = false;
  std::string why;          // failures: what was found instead and where
};

// Whether the record is of the selector's point and has every `where` field with a matching value.
bool matches(const TraceRecord& r, const TraceSelector& s);
// The trace point named `name` ("vmbus.channel"), if any.
std::optional<TracePoint> trace_point_named(std::string_view name);
// "trace vmbus.channel where {\"state\":\"released\"} count 1", or the label when there is one.
std::string describe(const Expectation& e);
CheckResult evaluate(const Expectation& e, const TraceLog& log, const RunEnd& run);
// Whether `e` is about how the run ended with this kind of verdict (scenarios/README.md, exit
// status): an exit_code expectation covers every verdict; no_crash a crash; ends_before a
// watchdog; a trace or never expectation on run.verdict every verdict.
bool covers_verdict(const Expectation& e, Verdict::Kind kind);

}  // namespace hvsim::scenario
