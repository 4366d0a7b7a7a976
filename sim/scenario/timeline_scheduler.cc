// The scenario timeline on the event queue (contract in timeline_scheduler.h).
#include "sim/scenario/timeline_scheduler.h"

#include <algorithm>

#include "sim/core/status.h"
#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

// a + b, or nullopt past the end of virtual time.
std::optional<VirtualTime> later(VirtualTime a, VirtualTime b) {
  if (b.ps() > VirtualTime::max().ps() - a.ps()) return std::nullopt;
  return a + b;
}

}  // namespace

TimelineScheduler::TimelineScheduler(const Scenario& s, Machine& m, Perform perform)
    : s_(s), m_(m), perform_(std::move(perform)), state_(s.timeline.size()), dependents_(s.timeline.size()),
      watched_(static_cast<size_t>(TracePoint::kCount), false) {
  for (size_t i = 0; i < s.timeline.size(); ++i) {
    const TimelineEntry& e = s.timeline[i];
    if (const auto* at = std::get_if<AtTrigger>(&e.when.trigger)) {
      fire(i, at->at);
    } else if (const auto* on = std::get_if<TraceTrigger>(&e.when.trigger)) {
      watched_[static_cast<size_t>(on->select.point)] = true;
    } else if (const auto* insns = std::get_if<InsnTrigger>(&e.when.trigger)) {
      if (insns->vp >= m.vcpu_count())
        throw UsageError(s.file + ": " + e.pointer + "/after_insns/vp: the machine has " + std::to_string(m.vcpu_count()) +
                         " vCPU(s); vp " + std::to_string(insns->vp) + " does not exist");
      ++pending_polls_;
      m_.events().schedule(m_.events().now() + kInsnPollStep, EventPriority::kScenario, [this, i] { poll(i); });
    } else {
      dependents_[std::get<AfterTrigger>(e.when.trigger).entry].push_back(i);
    }
  }
}

bool TimelineScheduler::watches_any() const { return std::find(watched_.begin(), watched_.end(), true) != watched_.end(); }

void TimelineScheduler::on_record(TracePoint p, VirtualTime t, std::string_view json) {
  if (!watches(p)) return;
  std::optional<TraceRecord> record;  // parsed once, when a pending trigger looks at this point
  for (size_t i = 0; i < s_.timeline.size(); ++i) {
    const auto* on = std::get_if<TraceTrigger>(&s_.timeline[i].when.trigger);
    if (!on || on->select.point != p || state_[i].fired) continue;
    if (!record) {
      TraceLog one;
      one.add(0, json);
      if (one.records().empty()) return;
      record = one.records().front();
    }
    if (!matches(*record, on->select) || ++state_[i].matched < on->nth) continue;
    // Only scheduled here: the machine may be in the middle of a vCPU exit.
    if (std::optional<VirtualTime> at = later(t, s_.timeline[i].when.delay)) fire(i, *at);
  }
}

void TimelineScheduler::fire(size_t i, VirtualTime t) {
  state_[i].fired = true;
  m_.events().schedule(std::max(t, m_.events().now()), EventPriority::kScenario, [this, i] { run(i); });
}

void TimelineScheduler::run(size_t i) {
  const TimelineEntry& e = s_.timeline[i];
  EntryState& st = state_[i];
  VirtualTime now = m_.now();
  ++st.runs;
  if (!perform_(e.action, now) && st.refused++ == 0) st.first_refused = st.runs;
  if (st.runs == 1) {
    for (size_t d : dependents_[i])
      if (std::optional<VirtualTime> at = later(now, s_.timeline[d].when.delay)) fire(d, *at);
  }
  if (st.runs < e.when.repeat.count) {
    if (std::optional<VirtualTime> at = later(now, e.when.repeat.every))
      m_.events().schedule(*at, EventPriority::kScenario, [this, i] { run(i); });
  }
}

uint64_t TimelineScheduler::total_retired() const {
  uint64_t n = 0;
  for (unsigned vp = 0; vp < m_.vcpu_count(); ++vp) n += m_.retired(static_cast<int>(vp));
  return n;
}

void TimelineScheduler::poll(size_t i) {
  --pending_polls_;
  const auto& t = std::get<InsnTrigger>(s_.timeline[i].when.trigger);
  if (m_.retired(static_cast<int>(t.vp)) >= t.count) {
    if (std::optional<VirtualTime> at = later(m_.now(), s_.timeline[i].when.delay)) fire(i, *at);
    return;
  }
  uint64_t total = total_retired();
  bool progress = total != state_[i].last_retired;
  state_[i].last_retired = total;
  if (!progress && m_.events().size() <= pending_polls_) return;  // nothing can ever run again
  ++pending_polls_;
  m_.events().schedule(m_.events().now() + kInsnPollStep, EventPriority::kScenario, [this, i] { poll(i); });
}

std::vector<CheckResult> TimelineScheduler::results(const RunEnd& end) const {
  std::vector<CheckResult> out;
  const std::string ended = "the run ended at " + format_time(end.end) + " (" + end.verdict.label() + ")";
  for (size_t i = 0; i < s_.timeline.size(); ++i) {
    const TimelineEntry& e = s_.timeline[i];
    const EntryState& st = state_[i];
    CheckResult c{e.pointer, describe(e.when) + ": " + describe(e.action), false, {}};
    c.held = st.runs == e.when.repeat.count && st.refused == 0;
    if (st.runs == 0) {
      std::string cause;
      if (!st.fired) {
        if (const auto* on = std::get_if<TraceTrigger>(&e.when.trigger))
          cause = "found " + std::to_string(st.matched) + " of the " + std::to_string(on->nth) + " matching records it waits for; ";
        else if (const auto* insns = std::get_if<InsnTrigger>(&e.when.trigger))
          cause = "vp" + std::to_string(insns->vp) + " retired " + std::to_string(m_.retired(static_cast<int>(insns->vp))) + " of " +
                  std::to_string(insns->count) + " instructions; ";
        else if (const auto* after = std::get_if<AfterTrigger>(&e.when.trigger))
          cause = after->id + " (" + s_.timeline[after->entry].pointer + ") never ran; ";
      }
      c.why = "never ran: " + cause + ended;
    } else if (st.runs < e.when.repeat.count) {
      c.why = "ran " + std::to_string(st.runs) + " of " + std::to_string(e.when.repeat.count) + " times: " + ended;
    } else if (st.refused > 0) {
      c.why = "the host refused it (no such channel or device in a state the action applies to)";
      if (e.when.repeat.count > 1)
        c.why += ": " + std::to_string(st.refused) + " of " + std::to_string(st.runs) + " runs, the first run " +
                 std::to_string(st.first_refused);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace hvsim::scenario
