// The scenario timeline on the event queue (contract in timeline_scheduler.h).
#include "sim/scenario/timeline_scheduler.h"

#include <algorithm>

#include "models/hv/hvdef_synic.h"
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
      require_vp(i, "/after_insns/vp", insns->vp);
      ++pending_polls_;
      m_.events().schedule(m_.events().now() + kInsnPollStep, EventPriority::kScenario, [this, i] { poll(i); });
    } else if (const auto* reach = std::get_if<ReachTrigger>(&e.when.trigger)) {
      arm_reach(i, *reach);
    } else if (const auto* read = std::get_if<ReadTrigger>(&e.when.trigger)) {
      arm_read(i, *read);
    } else {
      dependents_[std::get<AfterTrigger>(e.when.trigger).entry].push_back(i);
    }
  }
}

void TimelineScheduler::require_vp(size_t i, const std::string& key, unsigned vp) const {
  if (vp < m_.vcpu_count()) return;
  throw UsageError(s_.file + ": " + s_.timeline[i].pointer + key + ": the machine has " + std::to_string(m_.vcpu_count()) +
                   " vCPU(s); vp " + std::to_string(vp) + " does not exist");
}

void TimelineScheduler::arm_reach(size_t i, const ReachTrigger& t) {
  const TimelineEntry& e = s_.timeline[i];
  auto fail = [&](const std::string& key, const std::string& why) {
    throw UsageError(s_.file + ": " + e.pointer + "/reaches/" + key + ": " + why);
  };
  uint64_t rip = t.address;
  if (!t.symbol.empty()) {
    std::optional<uint64_t> value = m_.symbol(t.symbol);
    if (!value) fail("symbol", "the guest ELF '" + m_.params().guest + "' has no symbol \"" + t.symbol +
                             "\" in its .symtab (or several local ones: name an address)");
    rip = *value;
    if (!m_.in_image(rip)) fail("symbol", t.symbol + " is not inside the guest image's PT_LOAD segments");
  } else if (!m_.in_image(rip)) {
    fail("address", reach_target(t) + " is not inside the guest image's PT_LOAD segments ('" + m_.params().guest + "')");
  }
  if (t.vp) require_vp(i, "/reaches/vp", *t.vp);
  m_.watches().watch_exec(rip, t.vp ? static_cast<int>(*t.vp) : kNoVp, reach_target(t),
                          [this, i, nth = t.nth](int, VirtualTime at) { return on_hit(i, at, nth); });
}

void TimelineScheduler::arm_read(size_t i, const ReadTrigger& t) {
  const TimelineEntry& e = s_.timeline[i];
  auto fail = [&](const std::string& key, const std::string& why) {
    throw UsageError(s_.file + ": " + e.pointer + "/reads/" + key + ": " + why);
  };
  auto on_hit_fn = [this, i, nth = t.nth](int, VirtualTime at) { return on_hit(i, at, nth); };
  if (const auto* slot = std::get_if<SynicSlotTarget>(&t.target)) {
    if (!m_.hv().enabled() || !m_.hv().partition().params().hv.synic)
      fail("synic_slot", "needs the SynIC (machine.hv '" + m_.params().hv + "' lacks hv-synic)");
    require_vp(i, "/reads/synic_slot/vp", slot->vp);
    auto where = [this, i, vp = slot->vp, sint = slot->sint]() -> GuestWatches::Ranges {
      uint64_t simp = m_.hv().partition().synic(vp).simp();
      if (!(simp & hv::kHvSynicPageEnable)) return {};
      state_[i].armed = true;
      return {{(simp & hv::kHvSynicPageGpaMask) + uint64_t{sint} * hv::kHvMessageSlotSize, hv::kHvMessageSlotSize}};
    };
    m_.watches().watch_read(where, static_cast<int>(slot->vp), "synic_slot", on_hit_fn);
    return;
  }
  const auto& ring = std::get<RingTarget>(t.target);
  vmbus::VmbusHost* host = m_.vmbus();
  if (!host) fail("ring", "needs the VMBus host, and this machine has none");
  if (!host->device(ring.device)) fail("ring", "the VMBus host has no device named \"" + ring.device + "\"");
  if (t.vp) require_vp(i, "/reads/vp", *t.vp);
  auto where = [this, i, host, device = ring.device, part = ring.part]() -> GuestWatches::Ranges {
    const vmbus::Channel* c = host->channel_of(device);
    const vmbus::Channel::OpenState* open = c ? c->open_state() : nullptr;
    if (!open) return {};
    const std::vector<uint64_t>& pfns = open->in.view().pfns();
    size_t first = part == RingPart::kData ? 1 : 0;
    size_t end = part == RingPart::kHeader ? std::min<size_t>(1, pfns.size()) : pfns.size();
    GuestWatches::Ranges out;  // the pages, contiguous runs merged
    for (size_t p = first; p < end; ++p) {
      uint64_t gpa = pfns[p] * 4096;
      if (!out.empty() && out.back().gpa + out.back().size == gpa) out.back().size += 4096;
      else out.push_back({gpa, 4096});
    }
    state_[i].armed = state_[i].armed || !out.empty();
    return out;
  };
  m_.watches().watch_read(where, t.vp ? static_cast<int>(*t.vp) : kNoVp, "ring", on_hit_fn);
}

bool TimelineScheduler::on_hit(size_t i, VirtualTime t, uint64_t nth) {
  EntryState& st = state_[i];
  if (++st.matched < nth) return true;
  if (std::optional<VirtualTime> at = later(t, s_.timeline[i].when.delay)) fire(i, *at);
  return false;  // fired: the watch has done its job (it would only slow the guest down)
}

std::string TimelineScheduler::watch_cause(size_t i, const std::string& never, const std::string& event, uint64_t nth) const {
  const EntryState& st = state_[i];
  std::string cause = st.matched == 0 ? never
                                      : "only " + std::to_string(st.matched) + " of the " + std::to_string(nth) + " times " + event;
  if (const auto* read = std::get_if<ReadTrigger>(&s_.timeline[i].when.trigger); read && !st.armed) {
    if (const auto* slot = std::get_if<SynicSlotTarget>(&read->target))
      cause += " (vp" + std::to_string(slot->vp) + " never enabled its SIMP page)";
    else
      cause += " (the channel of " + std::get<RingTarget>(read->target).device + " was never open)";
  }
  return cause + "; ";
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
        else if (const auto* reach = std::get_if<ReachTrigger>(&e.when.trigger))
          cause = watch_cause(i, describe_event(*reach, true), describe_event(*reach), reach->nth);
        else if (const auto* read = std::get_if<ReadTrigger>(&e.when.trigger))
          cause = watch_cause(i, describe_event(*read, true), describe_event(*read), read->nth);
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
