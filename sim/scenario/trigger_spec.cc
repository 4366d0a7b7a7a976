// Timeline triggers: parsing and description (contract in trigger_spec.h).
#include "sim/scenario/trigger_spec.h"

#include <cstdio>
#include <map>

#include "sim/core/status.h"
#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

constexpr uint64_t kMaxRepeat = 1000000;
constexpr std::string_view kTriggers[] = {"at", "on", "after_insns", "after", "reaches", "reads"};

bool valid_id(const std::string& id) {
  if (id.empty()) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

std::string ordinal(uint64_t n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    if (n % 10 == 1) suffix = "st";
    else if (n % 10 == 2) suffix = "nd";
    else if (n % 10 == 3) suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

std::string selector_text(const TraceSelector& s) {
  std::string out(trace_point_name(s.point));
  if (s.where.empty()) return out;
  nlohmann::json w = nlohmann::json::object();
  for (const auto& [k, v] : s.where) w[k] = v;
  return out + " where " + w.dump();
}

// "0x201000": a guest-virtual address in hex.
uint64_t parse_address(const Value& v) {
  const nlohmann::json& j = v.json();
  std::string s = j.is_string() ? j.get<std::string>() : "";
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') ||
      s.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos)
    v.fail("a guest-virtual address as a hex string, e.g. \"0x201000\"");
  return std::stoull(s.substr(2), nullptr, 16);
}

// The one key of `keys` the object `v` has (none or several: a UsageError).
std::string_view one_of(const Value& v, std::initializer_list<std::string_view> keys) {
  std::string_view found;
  std::string list;
  for (std::string_view k : keys) {
    list += (list.empty() ? "\"" : " or \"") + std::string(k) + "\"";
    if (!v.find(k)) continue;
    if (!found.empty()) v.fail_message("has both \"" + std::string(found) + "\" and \"" + std::string(k) + "\"; expected one of " + list);
    found = k;
  }
  if (found.empty()) v.fail_message("missing " + list);
  return found;
}

ReachTrigger parse_reaches(const Value& v, unsigned vcpus) {
  Object o(v, {"symbol", "address", "vp", "nth"});
  ReachTrigger t;
  if (one_of(v, {"symbol", "address"}) == "symbol") {
    Value sym = o.required("symbol");
    t.symbol = sym.string();
    if (t.symbol.empty()) sym.fail("a symbol of the guest ELF's .symtab");
  } else {
    t.address = parse_address(o.required("address"));
  }
  if (auto vp = o.optional("vp")) t.vp = static_cast<unsigned>(vp->integer(0, vcpus - 1));
  if (auto n = o.optional("nth")) t.nth = n->integer(1, UINT64_MAX);
  return t;
}

ReadTrigger parse_reads(const Value& v, unsigned vcpus) {
  Object o(v, {"synic_slot", "ring", "part", "vp", "nth"});
  ReadTrigger t;
  if (one_of(v, {"synic_slot", "ring"}) == "synic_slot") {
    Value slot_value = o.required("synic_slot");
    Object slot(slot_value, {"vp", "sint"});
    SynicSlotTarget s;
    s.vp = static_cast<unsigned>(slot.required("vp").integer(0, vcpus - 1));
    s.sint = static_cast<unsigned>(slot.required("sint").integer(0, 15));
    if (auto p = o.optional("part")) p->fail_message("part applies to a ring only");
    if (auto vp = o.optional("vp"))
      vp->fail_message("a SynIC message slot is read by its own VP only: name it in synic_slot.vp");
    t.target = s;
  } else {
    Value device = o.required("ring");
    RingTarget r;
    r.device = device.string();
    if (r.device.empty()) device.fail("the name of a device in \"devices\"");
    if (auto p = o.optional("part")) {
      std::string part = p->string_of({"all", "header", "data"});
      r.part = part == "header" ? RingPart::kHeader : part == "data" ? RingPart::kData : RingPart::kAll;
    }
    if (auto vp = o.optional("vp")) t.vp = static_cast<unsigned>(vp->integer(0, vcpus - 1));
    t.target = r;
  }
  if (auto n = o.optional("nth")) t.nth = n->integer(1, UINT64_MAX);
  return t;
}

// "vp1 reaches" / "a vCPU reaches", or with `never` "vp1 never reached" / "no vCPU ever reached".
std::string who_does(const std::optional<unsigned>& vp, const char* verb, const char* past, bool never) {
  if (!never) return (vp ? "vp" + std::to_string(*vp) : std::string("a vCPU")) + " " + verb;
  return (vp ? "vp" + std::to_string(*vp) + " never " : std::string("no vCPU ever ")) + past;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Trigger parse_trigger(std::string_view kind, const Value& v, unsigned vcpus) {
  if (kind == "reaches") return parse_reaches(v, vcpus);
  if (kind == "reads") return parse_reads(v, vcpus);
  if (kind == "at") return AtTrigger{v.duration()};
  if (kind == "on") {
    Object o(v, {"trace", "where", "nth"});
    TraceTrigger t{parse_selector(o.required("trace"), o.optional("where")), 1};
    if (auto n = o.optional("nth")) t.nth = n->integer(1, UINT64_MAX);
    return t;
  }
  if (kind == "after_insns") {
    Object o(v, {"vp", "count"});
    InsnTrigger t;
    t.vp = static_cast<unsigned>(o.required("vp").integer(0, vcpus - 1));
    t.count = o.required("count").integer(1, UINT64_MAX);
    return t;
  }
  std::string id = v.string();
  if (!valid_id(id)) v.fail("the id of another timeline entry");
  return AfterTrigger{id, 0};
}

}  // namespace

TraceSelector parse_selector(const Value& name, const std::optional<Value>& where) {
  TraceSelector sel;
  std::optional<TracePoint> p = name.json().is_string() ? trace_point_named(name.string()) : std::nullopt;
  if (!p) name.fail("a trace point name from sim/core/trace_points.def, e.g. \"vmbus.channel\"");
  if (*p == TracePoint::kBlock) name.fail_message("cpu.block is a verbose trace point expectations do not see");
  sel.point = *p;
  if (where) {
    for (const auto& [key, value] : where->members()) {
      const nlohmann::json& j = value.json();
      if (j.is_object()) {  // {"contains": TEXT}: a string field with TEXT in it
        Object o(value, {"contains"});
        Value text = o.required("contains");
        if (text.string().empty()) text.fail("a non-empty string");
      } else if (!j.is_string() && !j.is_number_integer() && !j.is_boolean()) {
        value.fail("a string, an integer, a boolean or {\"contains\": \"text\"}");
      }
      sel.where.emplace_back(key, j);
    }
  }
  return sel;
}

std::string parse_entry_id(const Value& entry) {
  std::optional<Value> id = entry.find("id");
  if (!id) return "";
  std::string s = id->string();
  if (!valid_id(s)) id->fail("an id of letters, digits, '_' and '-'");
  return s;
}

When parse_when(const Value& entry, unsigned vcpus) {
  std::string_view kind;
  for (std::string_view k : kTriggers) {
    if (!entry.find(k)) continue;
    if (!kind.empty())
      entry.fail_message("a timeline entry has exactly one trigger of at, on, after_insns, after, reaches, reads; this one has " +
                         std::string(kind) + " and " + std::string(k));
    kind = k;
  }
  if (kind.empty())
    entry.fail_message("missing a trigger: one of \"at\", \"on\", \"after_insns\", \"after\", \"reaches\", \"reads\"");
  When w{parse_trigger(kind, *entry.find(kind), vcpus), VirtualTime{}, Repeat{}};
  if (auto d = entry.find("delay")) {
    if (kind == "at") d->fail_message("delay needs a trigger other than at (write the time into at)");
    w.delay = d->duration();
  }
  if (auto r = entry.find("repeat")) {
    Object o(*r, {"every", "count"});
    Value every = o.required("every");
    w.repeat.every = every.duration();
    if (w.repeat.every == VirtualTime{}) every.fail("a non-zero duration");
    w.repeat.count = o.required("count").integer(1, kMaxRepeat);
  }
  return w;
}

void check_after_references(std::vector<When*> whens, const std::vector<std::string>& ids,
                            const std::vector<std::string>& pointers, const std::string& file) {
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) continue;
    auto [it, fresh] = by_id.emplace(ids[i], i);
    if (!fresh)
      throw UsageError(file + ": " + pointers[i] + "/id: id \"" + ids[i] + "\" is already used by " + pointers[it->second]);
  }
  for (size_t i = 0; i < whens.size(); ++i) {
    auto* a = std::get_if<AfterTrigger>(&whens[i]->trigger);
    if (!a) continue;
    auto it = by_id.find(a->id);
    if (it == by_id.end())
      throw UsageError(file + ": " + pointers[i] + "/after: expected the id of another timeline entry, got \"" + a->id + "\"");
    a->entry = it->second;
  }
  // Each entry names at most one other: follow the chain from every entry; a chain that comes
  // back to its start is a cycle (entries are visited in file order, so the first one is named).
  for (size_t i = 0; i < whens.size(); ++i) {
    std::string chain = ids[i];
    size_t at = i;
    for (size_t steps = 0; steps < whens.size(); ++steps) {
      const auto* a = std::get_if<AfterTrigger>(&whens[at]->trigger);
      if (!a) break;
      at = a->entry;
      chain += " -> " + ids[at];
      if (at == i)
        throw UsageError(file + ": " + pointers[i] + "/after: a cycle of after references (" + chain +
                         "): none of these entries could ever run");
    }
  }
}

std::string reach_target(const ReachTrigger& t) { return t.symbol.empty() ? hex(t.address) : t.symbol; }

std::string describe_event(const ReachTrigger& t, bool never) {
  return who_does(t.vp, "reaches", "reached", never) + " " + reach_target(t);
}

std::string describe_event(const ReadTrigger& t, bool never) {
  if (const auto* slot = std::get_if<SynicSlotTarget>(&t.target))
    return who_does(slot->vp, "reads", "read", never) + " its SynIC message slot for SINT " + std::to_string(slot->sint);
  const auto& ring = std::get<RingTarget>(t.target);
  static const char* const kPart[] = {"", " (control page)", " (data area)"};
  return who_does(t.vp, "reads", "read", never) + " the host->guest ring of " + ring.device + kPart[static_cast<size_t>(ring.part)];
}

std::string describe(const When& w) {
  struct Describe {
    const When& w;
    std::string delay() const { return w.delay == VirtualTime{} ? "" : " + " + format_time(w.delay); }
    std::string operator()(const AtTrigger& t) const { return "at " + format_time(t.at); }
    std::string operator()(const TraceTrigger& t) const { return "on the " + ordinal(t.nth) + " " + selector_text(t.select) + delay(); }
    std::string operator()(const InsnTrigger& t) const {
      return "after " + std::to_string(t.count) + " instructions on vp" + std::to_string(t.vp) + delay();
    }
    std::string operator()(const ReachTrigger& t) const { return "the " + ordinal(t.nth) + " time " + describe_event(t) + delay(); }
    std::string operator()(const ReadTrigger& t) const { return "the " + ordinal(t.nth) + " time " + describe_event(t) + delay(); }
    std::string operator()(const AfterTrigger& t) const {
      return (w.delay == VirtualTime{} ? std::string("right") : format_time(w.delay)) + " after " + t.id;
    }
  };
  std::string out = std::visit(Describe{w}, w.trigger);
  if (w.repeat.count > 1) out += ", " + std::to_string(w.repeat.count) + " times every " + format_time(w.repeat.every);
  return out;
}

}  // namespace hvsim::scenario
