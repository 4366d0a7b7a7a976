// The scriptable `test` device's wire format (class GUID kTestClass, an hvsim GUID). Payloads
// are opaque bytes: the device echoes them and never interprets them. Definitions only.
#pragma once

#include <cstdint>

#include "models/vmbus/protocol.h"

namespace hvsim::devices::test {

// An echo of a guest packet without COMPLETION_REQUESTED, and every host-pushed packet.
constexpr uint16_t kEchoType = vmbus::kPktDataInband;
// An echo of a guest packet with COMPLETION_REQUESTED: a completion carrying the same payload.
constexpr uint16_t kCompletionType = vmbus::kPktComp;
// trans_id of host-pushed (unsolicited) packets; Linux never uses 0 for a request (§6.2).
constexpr uint64_t kUnsolicitedTransId = 0;
// Flags of every packet the device sends: it never asks the guest for a completion.
constexpr uint16_t kSendFlags = 0;

}  // namespace hvsim::devices::test
