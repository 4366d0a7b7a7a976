// The timeline actions that drive the VMBus host's fault injection (models/vmbus/vmbus_host.h
// "fault injection", docs/vmbus.md "Fault injection"; the format in scenarios/README.md
// "Fault injection actions"), as typed values.
//
// Each struct is one VmbusHost call with its arguments checked by the parser (scenario_spec.cc):
// message types are valid MsgType names, field names and widths fit the message layout, sizes
// and byte strings are in range. What only the host can know at action time is resolved then by
// the runner (scenario_runner.cc): a device name becomes the relid of its primary channel, an
// offer is built with the device's current relid, a set_fault without a seed takes the machine's.
// An action the host refuses (no channel, ring full, nothing to rewrite, ...) is a refused action.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "models/vmbus/protocol.h"
#include "sim/core/virtual_time.h"

namespace hvsim::scenario {

// build_message(type, fields, size) + send_raw.
struct SendMessageAction {
  vmbus::MsgType type = vmbus::MsgType::kInvalid;
  std::map<std::string, uint64_t> fields;
  std::optional<size_t> size;
  std::optional<uint32_t> vp;  // deliver to this VP instead of the connection's
};
// build_offer(device, fields, size) + send_raw.
struct SendOfferAction {
  std::string device;
  std::map<std::string, uint64_t> fields;
  std::optional<size_t> size;
};
// send_raw(bytes).
struct SendRawAction {
  std::vector<uint8_t> bytes;
  std::optional<uint32_t> vp;  // deliver to this VP instead of the connection's
};
// withhold(response, count); count kUntilCleared = "all".
struct WithholdAction {
  vmbus::MsgType response = vmbus::MsgType::kInvalid;
  uint32_t count = 1;
};
// delay(response, by, count).
struct DelayAction {
  vmbus::MsgType response = vmbus::MsgType::kInvalid;
  VirtualTime by;
  uint32_t count = 1;
};
// clear_response_control(response), or every rule when `response` is empty.
struct ClearResponseControlAction { std::optional<vmbus::MsgType> response; };
// inject_packet(relid of device, bytes).
struct InjectPacketAction {
  std::string device;
  std::vector<uint8_t> bytes;
};
// inject_inband(relid of device, payload, trans_id, flags).
struct InjectInbandAction {
  std::string device;
  std::vector<uint8_t> payload;
  uint64_t trans_id = 0;
  uint16_t flags = 0;
};
// rewrite_last_packet(relid of device, offset, bytes).
struct RewritePacketAction {
  std::string device;
  uint32_t offset = 0;
  std::vector<uint8_t> bytes;
};
// rewrite_last_message(offset, bytes, after).
struct RewriteMessageAction {
  uint32_t offset = 0;
  std::vector<uint8_t> bytes;
  VirtualTime after;
};
// set_fault(point, num, den, seed); no seed: the machine's seed.
struct SetFaultAction {
  std::string point;
  uint32_t num = 0;
  uint32_t den = 1;
  std::optional<uint64_t> seed;
};

using FaultAction = std::variant<SendMessageAction, SendOfferAction, SendRawAction, WithholdAction, DelayAction,
                                 ClearResponseControlAction, InjectPacketAction, InjectInbandAction,
                                 RewritePacketAction, RewriteMessageAction, SetFaultAction>;

}  // namespace hvsim::scenario
