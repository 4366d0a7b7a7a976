// Expectation evaluation (contract in expectations.h).
#include "sim/scenario/expectations.h"

#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

using nlohmann::json;

std::string where_text(const TraceSelector& s) {
  std::string out(trace_point_name(s.point));
  if (s.where.empty()) return out;
  json w = json::object();
  for (const auto& [k, v] : s.where) w[k] = v;
  return out + " where " + w.dump();
}

// Whether a record's field matches a `where` value: equal, or for {"contains": TEXT} a string
// with TEXT in it.
bool field_matches(const json& field, const json& wanted) {
  if (!wanted.is_object()) return field == wanted;
  auto text = wanted.find("contains");
  return field.is_string() && text != wanted.end() && text->is_string() &&
         field.get_ref<const std::string&>().find(text->get_ref<const std::string&>()) != std::string::npos;
}

// How many `where` fields the record has with a matching value.
size_t fields_matching(const TraceRecord& r, const TraceSelector& s) {
  size_t n = 0;
  for (const auto& [k, v] : s.where) {
    auto it = r.fields.find(k);
    n += it != r.fields.end() && field_matches(*it, v);
  }
  return n;
}

std::string at_line(const TraceRecord& r) {
  return "trace line " + std::to_string(r.line) + " (t=" + format_seconds(r.t) + "): " + r.text;
}

std::string plural(uint64_t n, const char* one) { return std::to_string(n) + " " + one + (n == 1 ? "" : "s"); }

std::string bounds_text(const TraceExpectation& e) {
  if (e.never || e.max == 0) return "none";
  if (e.min == e.max) return "exactly " + std::to_string(e.min);
  if (e.max == UINT64_MAX) return "at least " + std::to_string(e.min);
  if (e.min == 0) return "at most " + std::to_string(e.max);
  return std::to_string(e.min) + " to " + std::to_string(e.max);
}

std::string describe_trace(const TraceExpectation& e) {
  std::string out = (e.never ? "never " : "trace ") + where_text(e.select);
  if (!e.never && !(e.min == 1 && e.max == UINT64_MAX)) out += " (" + bounds_text(e) + ")";
  if (e.after) out += " after " + format_time(*e.after);
  if (e.before) out += " before " + format_time(*e.before);
  if (e.after_trace) out += " after the first " + where_text(*e.after_trace);
  return out;
}

CheckResult evaluate_trace(const TraceExpectation& e, const TraceLog& log, CheckResult r) {
  const std::vector<TraceRecord>& recs = log.records();
  uint64_t anchor = 0;  // records must come after this line
  if (e.after_trace) {
    const TraceRecord* first = nullptr;
    for (const TraceRecord& rec : recs)
      if (!first && matches(rec, *e.after_trace)) first = &rec;
    if (!first) {
      r.why = "the after_trace record (" + where_text(*e.after_trace) + ") never occurred";
      return r;
    }
    anchor = first->line;
  }
  auto in_window = [&](const TraceRecord& rec) {
    return rec.line > anchor && (!e.after || rec.t >= *e.after) && (!e.before || rec.t < *e.before);
  };
  std::vector<const TraceRecord*> hits;
  const TraceRecord* outside = nullptr;  // first match outside the window
  const TraceRecord* near = nullptr;     // the record of the point that fails `where` by the fewest fields
  size_t near_fields = 0;
  uint64_t unmatched = 0;
  for (const TraceRecord& rec : recs) {
    if (rec.point != e.select.point) continue;
    if (!matches(rec, e.select)) {
      ++unmatched;
      size_t f = fields_matching(rec, e.select);
      if (!near || f > near_fields) near = &rec, near_fields = f;
    } else if (in_window(rec)) {
      hits.push_back(&rec);
    } else if (!outside) {
      outside = &rec;
    }
  }
  const uint64_t n = hits.size();
  if (n >= e.min && n <= e.max) {
    r.held = true;
    return r;
  }
  r.why = "expected " + bounds_text(e) + ", found " + plural(n, "matching record");
  if (n > e.max) {
    r.why += "; " + std::string(e.max == 0 ? "first" : "the one too many") + " at " + at_line(*hits[e.max]);
  } else if (outside) {
    r.why += "; the first match outside the window is at " + at_line(*outside);
  } else if (n > 0) {
    r.why += "; the last at " + at_line(*hits.back());
  } else if (near) {
    r.why += "; " + plural(unmatched, (std::string(trace_point_name(e.select.point)) + " record").c_str()) +
             " did not match where; the closest is at " + at_line(*near);
  } else {
    r.why += "; the trace has no " + std::string(trace_point_name(e.select.point)) + " record at all";
  }
  return r;
}

std::string verdict_text(const RunEnd& run) {
  std::string s = "the run ended at " + format_time(run.end) + " with verdict " + run.verdict.label();
  if (!run.verdict.message.empty()) s += " (" + run.verdict.message + ")";
  return s;
}

}  // namespace

bool matches(const TraceRecord& r, const TraceSelector& s) {
  return r.point == s.point && fields_matching(r, s) == s.where.size();
}

void TraceLog::add(uint64_t line, std::string_view json_line) {
  json j = json::parse(json_line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  auto t = j.find("t");
  auto ev = j.find("ev");
  if (t == j.end() || !t->is_number_unsigned() || ev == j.end() || !ev->is_string()) return;
  std::optional<TracePoint> p = trace_point_named(ev->get_ref<const std::string&>());
  if (!p) return;
  records_.push_back(TraceRecord{line, VirtualTime::from_ps(t->get<uint64_t>()), *p, std::move(j), std::string(json_line)});
}

std::optional<TracePoint> trace_point_named(std::string_view name) {
  for (uint16_t i = 0; i < static_cast<uint16_t>(TracePoint::kCount); ++i)
    if (trace_point_name(static_cast<TracePoint>(i)) == name) return static_cast<TracePoint>(i);
  return std::nullopt;
}

std::string describe(const Expectation& e) {
  if (!e.name.empty()) return e.name;
  struct Describe {
    std::string operator()(const ExitCodeExpectation& x) const { return "exit_code " + std::to_string(x.code); }
    std::string operator()(const TraceExpectation& x) const { return describe_trace(x); }
    std::string operator()(const NoCrashExpectation&) const { return "no_crash"; }
    std::string operator()(const EndsBeforeExpectation& x) const { return "ends_before " + format_time(x.limit); }
  };
  return std::visit(Describe{}, e.what);
}

CheckResult evaluate(const Expectation& e, const TraceLog& log, const RunEnd& run) {
  CheckResult r{e.pointer, describe(e), false, {}};
  if (const auto* t = std::get_if<TraceExpectation>(&e.what)) return evaluate_trace(*t, log, std::move(r));
  if (const auto* x = std::get_if<ExitCodeExpectation>(&e.what)) {
    r.held = run.verdict.kind == Verdict::Kind::kExit && run.verdict.exit_code == x->code;
  } else if (std::holds_alternative<NoCrashExpectation>(e.what)) {
    r.held = run.verdict.kind != Verdict::Kind::kCrash;
  } else if (const auto* b = std::get_if<EndsBeforeExpectation>(&e.what)) {
    r.held = run.end < b->limit;
  }
  if (!r.held) r.why = verdict_text(run);
  return r;
}

bool covers_verdict(const Expectation& e, Verdict::Kind kind) {
  if (std::holds_alternative<ExitCodeExpectation>(e.what)) return true;
  if (std::holds_alternative<NoCrashExpectation>(e.what)) return kind == Verdict::Kind::kCrash;
  if (std::holds_alternative<EndsBeforeExpectation>(e.what)) return kind == Verdict::Kind::kWatchdog;
  const auto* t = std::get_if<TraceExpectation>(&e.what);
  return t && t->select.point == TracePoint::kVerdict;
}

}  // namespace hvsim::scenario
