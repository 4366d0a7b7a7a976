// Channel messages by field NAME, for fault injection (scenarios build a message from a type and
// field overrides). Names are the protocol.h struct members; every message also has the header's
// "msgtype" and "header_padding". GUIDs and byte arrays (if_type, user_def, userdata, PFN lists)
// have no numeric field: they keep the base message's bytes. Types without a layout in
// protocol.h (reserved channels, TL_CONNECT, unknown numbers) have only the header fields.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "models/vmbus/protocol.h"

namespace hvsim::vmbus {

struct MessageField {
  const char* name;
  uint16_t offset;  // from the start of the message (header included)
  uint8_t width;    // bytes, little-endian: 1, 2, 4 or 8
};

// The numeric fields of `type` (header first). VERSION_RESPONSE also has "supported_features"
// at offset 16, the word VERSION_RESPONSE2 (>= 6.0) appends.
std::span<const MessageField> message_fields(MsgType type);
// Size of `type`'s fixed layout (header included); 8 for a header-only type.
size_t message_layout_size(MsgType type);

// Writes each (name, value) of `fields` into `msg`, growing it (zero-filled) when a field lies
// beyond its end. False with `error` set (naming the valid fields) for an unknown name, or a
// value wider than its field; `msg` is then unchanged.
bool apply_message_fields(std::vector<uint8_t>& msg, MsgType type, const std::map<std::string, uint64_t>& fields,
                          std::string& error);

}  // namespace hvsim::vmbus
