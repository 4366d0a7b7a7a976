// Durations as scenario files spell them: a decimal integer and a unit, "500ns", "1500us",
// "50ms", "2s", or "0" alone. Parsing is exact (no fractions, no overflow); formatting picks the
// largest unit that represents the time exactly, so format_time(parse_time_text(x)) round-trips.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/core/virtual_time.h"

namespace hvsim::scenario {

// The unsigned integer `text` spells in decimal digits only, if it fits 64 bits.
std::optional<uint64_t> parse_decimal(std::string_view text);
// The time `text` names, or nullopt if it is not a duration of the form above (or overflows).
std::optional<VirtualTime> parse_time_text(std::string_view text);
// "2s", "1500us", "52422500ps"; VirtualTime::max() is "never".
std::string format_time(VirtualTime t);
// Seconds with as many decimals as needed: "1.5000122675s", "0.000108519s" (trace times).
std::string format_seconds(VirtualTime t);

}  // namespace hvsim::scenario
