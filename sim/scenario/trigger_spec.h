// When a timeline entry runs: its trigger, an optional delay after it, and an optional repeat
// (scenarios/README.md, "Triggers"), and the strict parser of those keys of a timeline entry.
//
// A trigger is exactly one of: `at` (an exact virtual time), `on` (the nth trace record matching
// a selector), `after_insns` (a vCPU has retired N instructions), `after` (another entry, named by
// its `id`, ran for the first time), `reaches` (the nth time a vCPU is about to execute the
// instruction at an ELF symbol or address), `reads` (the nth time a vCPU is about to read a SynIC
// message slot or a device's host->guest ring). Symbols, addresses, devices and the vCPU count
// are checked against the machine when the timeline is armed (timeline_scheduler.h). `delay` (not with `at`) shifts the first run after the
// trigger fires; `repeat` {every, count} makes the entry run `count` times in all, `every` apart.
// parse_when() checks one entry's keys; check_after_references() resolves every `after` to the
// index of the entry it names and rejects unknown ids and cycles. Errors are UsageErrors naming
// the file and the JSON pointer of the faulty value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/core/virtual_time.h"
#include "sim/scenario/expectations.h"
#include "sim/scenario/json_reader.h"

namespace hvsim::scenario {

struct AtTrigger { VirtualTime at; };
// The nth record (1-based) matching `select`.
struct TraceTrigger { TraceSelector select; uint64_t nth = 1; };
// vCPU `vp` has retired at least `count` instructions (polled; see scenario_runner.h).
struct InsnTrigger { unsigned vp = 0; uint64_t count = 0; };
// The first run of the entry whose id is `id` (timeline index `entry`, set by check_after_references).
struct AfterTrigger { std::string id; size_t entry = 0; };
// A vCPU (`vp`, or any) is about to execute the instruction at `symbol` or at `address`, the nth time.
struct ReachTrigger {
  std::string symbol;   // "" when given as an address
  uint64_t address = 0;
  std::optional<unsigned> vp;
  uint64_t nth = 1;
};
// SynIC message slot `sint` of VP `vp` (only that VP sees its message page).
struct SynicSlotTarget { unsigned vp = 0; unsigned sint = 0; };
// The host->guest ring of `device`'s primary channel while it is open: its control page, its data
// area or both.
enum class RingPart : uint8_t { kAll, kHeader, kData };
struct RingTarget { std::string device; RingPart part = RingPart::kAll; };
// A vCPU is about to read a byte of the target, the nth time (`vp`: ring reads by that vCPU only).
struct ReadTrigger {
  std::variant<SynicSlotTarget, RingTarget> target;
  std::optional<unsigned> vp;
  uint64_t nth = 1;
};
using Trigger = std::variant<AtTrigger, TraceTrigger, InsnTrigger, AfterTrigger, ReachTrigger, ReadTrigger>;

struct Repeat {
  VirtualTime every;
  uint64_t count = 1;  // runs in all; 1 = no repeat
};

struct When {
  Trigger trigger;
  VirtualTime delay;  // from the trigger to the first run (always 0 with AtTrigger)
  Repeat repeat;
};

// A trace point name and an optional `where` object (expectations and `on` triggers): each value
// a string, an integer, a boolean, or {"contains": TEXT} with TEXT a non-empty string.
TraceSelector parse_selector(const Value& name, const std::optional<Value>& where);

// The timeline-entry keys parse_when() reads (the action's own keys come on top).
inline constexpr std::string_view kWhenKeys[] = {"id", "at", "on", "after_insns", "after", "reaches", "reads", "delay", "repeat"};

// Reads the trigger, delay and repeat of the timeline entry `entry`; `vcpus` bounds every vp.
When parse_when(const Value& entry, unsigned vcpus);
// The entry's `id` ("" if none); checks its spelling.
std::string parse_entry_id(const Value& entry);

// For every entry with an AfterTrigger: the index of the entry with that id. `ids[i]` and
// `pointers[i]` are entry i's id ("" = none) and pointer. Throws UsageError for an unknown id or a
// cycle of `after` references (the pointer of the first entry of the cycle in file order).
void check_after_references(std::vector<When*> whens, const std::vector<std::string>& ids,
                            const std::vector<std::string>& pointers, const std::string& file);

// "at 1ms", "on the 2nd vmbus.msg_in where {\"type\":\"OPENCHANNEL\"} + 50us",
// "after 100000 instructions on vp0", "50us after t1", "the 1st time vp0 reaches vmbus_isr",
// "the 2nd time a vCPU reads the host->guest ring of t1 (data area)", each with
// ", 3 times every 100us" if repeated.
std::string describe(const When& w);
// What the trigger waits for: "vp0 reaches vmbus_isr", "a vCPU reads the host->guest ring of t1";
// with `never`: "vp0 never reached vmbus_isr", "no vCPU ever read the host->guest ring of t1".
std::string describe_event(const ReachTrigger& t, bool never = false);
std::string describe_event(const ReadTrigger& t, bool never = false);
// The symbol, or the address in hex.
std::string reach_target(const ReachTrigger& t);

}  // namespace hvsim::scenario
