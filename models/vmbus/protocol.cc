// Names and GUID text conversions for the VMBus wire definitions (protocol.h).
//
// Contract: version_name renders a version word as "major.minor"; msg_type_name maps a
// CHANNELMSG code to its name without the prefix ("UNKNOWN" outside the table); parse_guid /
// guid_string convert between canonical 8-4-4-4-12 text and the wire byte order (PROTOCOL.md
// "Conventions": the first three groups little-endian, the last two in string order). Parsing
// accepts upper or lower case hex and nothing else; text output is lowercase.
#include "models/vmbus/protocol.h"

#include <array>
#include <stdexcept>

namespace hvsim::vmbus {

namespace {

constexpr std::array<const char*, static_cast<size_t>(MsgType::kCount)> kMsgTypeNames = {
    "INVALID",
    "OFFERCHANNEL",
    "RESCIND_CHANNELOFFER",
    "REQUESTOFFERS",
    "ALLOFFERS_DELIVERED",
    "OPENCHANNEL",
    "OPENCHANNEL_RESULT",
    "CLOSECHANNEL",
    "GPADL_HEADER",
    "GPADL_BODY",
    "GPADL_CREATED",
    "GPADL_TEARDOWN",
    "GPADL_TORNDOWN",
    "RELID_RELEASED",
    "INITIATE_CONTACT",
    "VERSION_RESPONSE",
    "UNLOAD",
    "UNLOAD_RESPONSE",
    "OPEN_RESERVED_CHANNEL",
    "CLOSE_RESERVED_CHANNEL",
    "CLOSE_RESERVED_CHANNEL_RESPONSE",
    "TL_CONNECT_REQUEST",
    "MODIFYCHANNEL",
    "TL_CONNECT_RESULT",
    "MODIFYCHANNEL_RESPONSE",
    "MODIFY_CONNECTION",
    "MODIFY_CONNECTION_RESPONSE",
    "PAUSE",
    "PAUSE_RESPONSE",
    "RESUME",
};

// Text position of each wire byte: groups 1-3 are stored little-endian, groups 4-5 in order.
// Text layout: 8 hex, '-', 4 hex, '-', 4 hex, '-', 4 hex, '-', 12 hex (36 characters).
constexpr std::array<size_t, 16> kTextOffsetOfByte = {6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34};
constexpr std::array<size_t, 4> kDashPositions = {8, 13, 18, 23};
constexpr size_t kGuidTextLength = 36;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_dash_position(size_t i) {
  for (size_t d : kDashPositions) {
    if (d == i) return true;
  }
  return false;
}

}  // namespace

std::string version_name(uint32_t version) {
  return std::to_string(version >> 16) + "." + std::to_string(version & 0xFFFF);
}

const char* msg_type_name(uint32_t type) {
  return type < kMsgTypeNames.size() ? kMsgTypeNames[type] : "UNKNOWN";
}

bool parse_guid(std::string_view text, Guid& out) {
  if (text.size() != kGuidTextLength) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash_expected = is_dash_position(i);
    if (dash_expected != (text[i] == '-')) return false;
    if (!dash_expected && hex_value(text[i]) < 0) return false;
  }
  Guid g;
  for (size_t b = 0; b < g.bytes.size(); ++b) {
    const size_t at = kTextOffsetOfByte[b];
    g.bytes[b] = static_cast<uint8_t>(hex_value(text[at]) << 4 | hex_value(text[at + 1]));
  }
  out = g;
  return true;
}

std::string guid_string(const Guid& g) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(kGuidTextLength, '-');
  for (size_t b = 0; b < g.bytes.size(); ++b) {
    const size_t at = kTextOffsetOfByte[b];
    text[at] = kDigits[g.bytes[b] >> 4];
    text[at + 1] = kDigits[g.bytes[b] & 0xF];
  }
  return text;
}

Guid guid(std::string_view text) {
  Guid g;
  if (!parse_guid(text, g)) throw std::invalid_argument("malformed GUID \"" + std::string(text) + "\"");
  return g;
}

}  // namespace hvsim::vmbus
