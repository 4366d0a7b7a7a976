// Device parameter parsing (contract in params.h).
#include "models/devices/params.h"

#include "sim/core/status.h"

namespace hvsim::devices {
namespace {

// Parses all of `text` as a decimal or 0x-hex u64; false on anything else or overflow.
bool parse_u64(const std::string& text, uint64_t& out) {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const uint64_t base = hex ? 16 : 10;
  const size_t start = hex ? 2 : 0;
  if (text.size() <= start) return false;
  uint64_t v = 0;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    uint64_t d;
    if (c >= '0' && c <= '9') d = static_cast<uint64_t>(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = static_cast<uint64_t>(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = static_cast<uint64_t>(c - 'A' + 10);
    else return false;
    if (v > (UINT64_MAX - d) / base) return false;
    v = v * base + d;
  }
  out = v;
  return true;
}

}  // namespace

const std::string* ParamReader::find(const std::string& key) {
  known_.insert(key);
  auto it = opts_.params.find(key);
  return it == opts_.params.end() ? nullptr : &it->second;
}

void ParamReader::bad(const std::string& key, const std::string& value, const std::string& expected) const {
  throw UsageError("device " + type_ + ": parameter '" + key + "': expected " + expected + ", got '" + value + "'");
}

std::optional<VirtualTime> ParamReader::duration(const std::string& key) {
  const std::string* text = find(key);
  if (!text) return std::nullopt;
  if (*text == "0") return VirtualTime{};
  struct Unit { const char* suffix; uint64_t ps; };
  static constexpr Unit kUnits[] = {{"ns", 1000ull}, {"us", 1000000ull}, {"ms", 1000000000ull}, {"s", 1000000000000ull}};
  for (const Unit& u : kUnits) {
    const std::string suffix = u.suffix;
    if (text->size() <= suffix.size() || text->compare(text->size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    uint64_t n = 0;
    if (!parse_u64(text->substr(0, text->size() - suffix.size()), n) || n > UINT64_MAX / u.ps) break;
    return VirtualTime::from_ps(n * u.ps);
  }
  bad(key, *text, "a duration such as 500ns, 100us, 50ms or 1s");
}

uint64_t ParamReader::integer(const std::string& key, uint64_t fallback, uint64_t min, uint64_t max) {
  const std::string* text = find(key);
  if (!text) return fallback;
  uint64_t v = 0;
  if (!parse_u64(*text, v) || v < min || v > max)
    bad(key, *text, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

std::optional<vmbus::Guid> ParamReader::guid(const std::string& key) {
  const std::string* text = find(key);
  if (!text) return std::nullopt;
  vmbus::Guid g;
  if (!vmbus::parse_guid(*text, g)) bad(key, *text, "a GUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)");
  return g;
}

void ParamReader::finish() const {
  for (const auto& [key, value] : opts_.params) {
    if (known_.count(key)) continue;
    std::string valid;
    for (const std::string& k : known_) valid += (valid.empty() ? "" : ", ") + k;
    throw UsageError("device " + type_ + ": unknown parameter '" + key + "' (valid: " +
                     (valid.empty() ? "none" : valid) + ")");
  }
}

}  // namespace hvsim::devices
