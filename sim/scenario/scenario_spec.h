// A scenario file (format v1, scenarios/README.md, scenarios/schema/scenario.schema.json) as typed
// values, and its strict parser.
//
// parse_scenario() validates the whole document before anything runs: an unknown key at any
// level, a wrong type, a value out of range, a device parameter its model rejects, two devices
// with one instance GUID, an action that names a missing device or a device of the wrong type,
// `at` entries out of time order, a bad trigger (trigger_spec.h), an unknown trace point: each is
// a UsageError "FILE: /json/pointer: expected ..., got ...". Field patches (json_patch.h, `--set`)
// apply before validation. The result holds the machine as MachineParams (defaults of `hvsim run`
// where the file is silent), the devices, the timeline and the expectations; scenario_runner.h
// turns it into a run.
// Extension points for later versions: Trigger (trigger_spec.h), Action and ExpectationKind are
// variants a new trigger, action or expectation is added to.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "models/devices/kvp/device.h"
#include "sim/machine/machine.h"
#include "sim/scenario/expectations.h"
#include "sim/scenario/fault_actions.h"
#include "sim/scenario/json_patch.h"
#include "sim/scenario/trigger_spec.h"

namespace hvsim::scenario {

inline constexpr uint64_t kSchemaVersion = 1;

struct DeviceSpec {
  std::string pointer;                          // "/devices/N"
  std::string name, type;
  // As devices::DeviceOptions takes them; the device keys `instance` and `ring_pages` {min, max}
  // are here as the registry's "instance", "ring_pages_min" and "ring_pages_max".
  std::map<std::string, std::string> params;
  bool offered = true;                          // false: only an "offer" action makes it appear (hot-add)
};

struct OfferAction { std::string device; };
struct RescindAction { std::string device; };
struct RescindRelidAction { uint32_t relid = 0; };
struct PushAction { std::string device; std::vector<uint8_t> payload; };
struct ChangeTscFrequencyAction { uint64_t hz = 0; };
struct SetRetargetLagAction { VirtualTime lag; };
struct SetThrottleAction { vmbus::ThrottlePolicy policy; };
struct ShutdownAction { std::string device; uint32_t flags = 0; };
// A request of a kvp device (models/devices/kvp/device.h), checked by the parser.
struct KvpAction { std::string device; devices::KvpRequest request; };
// FaultAction: the fault-injection actions (fault_actions.h).
using Action = std::variant<OfferAction, RescindAction, RescindRelidAction, PushAction, ChangeTscFrequencyAction,
                            SetRetargetLagAction, SetThrottleAction, ShutdownAction, KvpAction, FaultAction>;

struct TimelineEntry {
  std::string pointer;  // "/timeline/N"
  std::string id;       // "" = none
  When when;
  Action action;
};

struct Scenario {
  std::string file;            // as given (messages)
  std::string description;
  MachineParams machine;       // guest still unresolved, vmbus_devices/device_params not yet set
  std::string guest;           // as written; scenario_runner.h resolves it
  std::vector<DeviceSpec> devices;
  std::vector<TimelineEntry> timeline;     // in file order (`at` entries in time order)
  std::vector<Expectation> expectations;
};

// Parses a scenario document, patched first; `file` names it in messages. Throws UsageError.
Scenario parse_scenario(const std::string& text, const std::string& file, const std::vector<FieldPatch>& patches = {});
// Reads and parses a file. Throws UsageError (unreadable file included).
Scenario load_scenario(const std::string& path, const std::vector<FieldPatch>& patches = {});
// One line describing an action: "rescind heartbeat", "push t1 (4 bytes)", "withhold OPENCHANNEL_RESULT all".
std::string describe(const Action& a);

}  // namespace hvsim::scenario
