// Scenario durations (contract in time_text.h).
#include "sim/scenario/time_text.h"

#include <cstdint>
#include <iterator>

namespace hvsim::scenario {
namespace {

struct Unit {
  std::string_view suffix;
  uint64_t ps;
};
// Longest suffixes first where one ends another ("ms"/"s", "us"/"s", "ns"/"s").
constexpr Unit kUnits[] = {{"ns", 1000ull}, {"us", 1000000ull}, {"ms", 1000000000ull}, {"s", 1000000000000ull}};

}  // namespace

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<VirtualTime> parse_time_text(std::string_view text) {
  if (text == "0") return VirtualTime{};
  for (const Unit& u : kUnits) {
    if (text.size() <= u.suffix.size() || !text.ends_with(u.suffix)) continue;
    std::optional<uint64_t> v = parse_decimal(text.substr(0, text.size() - u.suffix.size()));
    if (!v || *v > UINT64_MAX / u.ps) return std::nullopt;
    return VirtualTime::from_ps(*v * u.ps);
  }
  return std::nullopt;
}

std::string format_time(VirtualTime t) {
  if (t == VirtualTime::max()) return "never";
  if (t.ps() == 0) return "0";
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it)
    if (t.ps() % it->ps == 0) return std::to_string(t.ps() / it->ps) + std::string(it->suffix);
  return std::to_string(t.ps()) + "ps";
}

std::string format_seconds(VirtualTime t) {
  constexpr uint64_t kPsPerSecond = 1000000000000ull;
  std::string frac = std::to_string(t.ps() % kPsPerSecond);
  frac = std::string(12 - frac.size(), '0') + frac;
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(t.ps() / kPsPerSecond) + (frac.empty() ? "" : "." + frac) + "s";
}

}  // namespace hvsim::scenario
