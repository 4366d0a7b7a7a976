// Seeded fault points (fault_points.h): a name table, the arming rules and the rolls.
#include "models/vmbus/fault_points.h"

namespace hvsim::vmbus {

const char* fault_point_name(FaultPoint p) {
  switch (p) {
    case FaultPoint::kDropSignal: return "drop_signal";
    case FaultPoint::kDelayDrain: return "delay_drain";
    case FaultPoint::kBusyOutbox: return "busy_outbox";
    case FaultPoint::kCount: break;
  }
  return "?";
}

bool FaultPoints::set(std::string_view point, uint32_t num, uint32_t den, uint64_t seed, std::string& error) {
  std::optional<FaultPoint> found;
  std::string names;
  for (size_t i = 0; i < armed_.size(); ++i) {
    auto p = static_cast<FaultPoint>(i);
    if (point == fault_point_name(p)) found = p;
    names += (names.empty() ? "" : ", ") + std::string(fault_point_name(p));
  }
  if (!found) {
    error = "unknown fault point '" + std::string(point) + "' (valid: " + names + ")";
    return false;
  }
  if (den == 0 || num > den) {
    error = "fault probability " + std::to_string(num) + "/" + std::to_string(den) + " is not in [0, 1]";
    return false;
  }
  std::optional<Armed>& a = armed_[static_cast<size_t>(*found)];
  a.reset();
  if (num > 0) a.emplace(Armed{num, den, RngStream(seed, "fault/" + std::string(point))});
  return true;
}

bool FaultPoints::fires(FaultPoint p) {
  std::optional<Armed>& a = armed_[static_cast<size_t>(p)];
  return a && a->rng.chance(a->num, a->den);
}

uint64_t FaultPoints::draw(FaultPoint p, uint64_t lo, uint64_t hi) {
  std::optional<Armed>& a = armed_[static_cast<size_t>(p)];
  return a ? a->rng.between(lo, hi) : lo;
}

}  // namespace hvsim::vmbus
