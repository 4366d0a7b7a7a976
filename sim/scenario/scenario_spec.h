// A scenario file (format v1, scenarios/README.md, scenarios/schema/scenario.schema.json) as typed
// values, and its strict parser.
//
// parse_scenario() validates the whole document before anything runs: an unknown key at any
// level, a wrong type, a value out of range, a device parameter its model rejects, an action that
// names a missing device or a device of the wrong type, a timeline out of time order, an unknown
// trace point: each is a UsageError "FILE: /json/pointer: expected ..., got ...". The result
// holds the machine as MachineParams (defaults of `hvsim run` where the file is silent), the
// devices, the timeline and the expectations; scenario_runner.h turns it into a run.
// Extension points for later versions: When (today only an exact virtual time), Action and
// ExpectationKind are variants a new trigger, action or expectation is added to.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sim/machine/machine.h"
#include "sim/scenario/expectations.h"

namespace hvsim::scenario {

inline constexpr uint64_t kSchemaVersion = 1;

struct DeviceSpec {
  std::string pointer;                          // "/devices/N"
  std::string name, type;
  std::map<std::string, std::string> params;    // as devices::DeviceOptions takes them
  bool offered = true;                          // false: only an "offer" action makes it appear (hot-add)
};

// When a timeline action runs. v1: at an exact virtual time.
struct When {
  VirtualTime at;
};

struct OfferAction { std::string device; };
struct RescindAction { std::string device; };
struct RescindRelidAction { uint32_t relid = 0; };
struct PushAction { std::string device; std::vector<uint8_t> payload; };
struct ChangeTscFrequencyAction { uint64_t hz = 0; };
struct SetRetargetLagAction { VirtualTime lag; };
struct SetThrottleAction { vmbus::ThrottlePolicy policy; };
struct ShutdownAction { std::string device; uint32_t flags = 0; };
using Action = std::variant<OfferAction, RescindAction, RescindRelidAction, PushAction, ChangeTscFrequencyAction,
                            SetRetargetLagAction, SetThrottleAction, ShutdownAction>;

struct TimelineEntry {
  std::string pointer;  // "/timeline/N"
  When when;
  Action action;
};

struct Scenario {
  std::string file;            // as given (messages)
  std::string description;
  MachineParams machine;       // guest still unresolved, vmbus_devices/device_params not yet set
  std::string guest;           // as written; scenario_runner.h resolves it
  std::vector<DeviceSpec> devices;
  std::vector<TimelineEntry> timeline;     // in file order = time order
  std::vector<Expectation> expectations;
};

// Parses a scenario document; `file` names it in messages. Throws UsageError.
Scenario parse_scenario(const std::string& text, const std::string& file);
// Reads and parses a file. Throws UsageError (unreadable file included).
Scenario load_scenario(const std::string& path);
// One line describing an action: "rescind heartbeat", "push t1 (4 bytes)".
std::string describe(const Action& a);

}  // namespace hvsim::scenario
