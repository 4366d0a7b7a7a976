#include "models/hv/ref_tsc.h"

#include <cstddef>
#include <cstring>

namespace hvsim::hv {

namespace {

constexpr uint64_t kRefUnitsPerSecond = 10000000;  // 100 ns units

template <typename T>
void put(uint8_t* page, size_t offset, T value) {
  std::memcpy(page + offset, &value, sizeof value);
}

}  // namespace

uint64_t tsc_scale_for(uint64_t tsc_hz) {
  if (tsc_hz <= kRefUnitsPerSecond) return 0;
  return static_cast<uint64_t>((static_cast<uint128>(kRefUnitsPerSecond) << 64) / tsc_hz);
}

uint64_t reference_time_from_tsc(uint64_t tsc, uint64_t scale, int64_t offset) {
  const auto scaled = static_cast<uint64_t>((static_cast<uint128>(tsc) * scale) >> 64);
  return scaled + static_cast<uint64_t>(offset);
}

int64_t offset_for_continuity(uint64_t tsc_now, uint64_t scale, uint64_t ref_now) {
  return static_cast<int64_t>(ref_now - reference_time_from_tsc(tsc_now, scale, 0));
}

void ReferenceTscPage::attach(uint8_t* page) {
  page_ = page;
  if (page_ == nullptr) return;
  std::memset(page_, 0, sizeof(HvReferenceTscPage));
  write_page();
}

bool ReferenceTscPage::publish(uint64_t tsc_hz, int64_t offset, VirtualTime now) {
  const uint64_t scale = tsc_scale_for(tsc_hz);
  if (scale == 0) {
    invalidate(now);
    return false;
  }
  // Sequence 0 first, then scale and offset, then a new sequence that skips 0 and 0xFFFFFFFF
  // (as KVM does), so a guest that read the old sequence always retries.
  state_.sequence = kHvRefTscSequenceInvalid;
  write_page();
  state_.scale = scale;
  state_.offset = offset;
  uint32_t next = state_.last_valid + 1;
  if (next == 0xFFFFFFFFu || next == kHvRefTscSequenceInvalid) next = 1;
  state_.sequence = next;
  state_.last_valid = next;
  write_page();
  trace(now, tsc_hz);
  return true;
}

void ReferenceTscPage::invalidate(VirtualTime now) {
  state_.sequence = kHvRefTscSequenceInvalid;
  write_page();
  trace(now, 0);
}

void ReferenceTscPage::reset() {
  state_ = State{};
  page_ = nullptr;
}

void ReferenceTscPage::write_page() {
  if (page_ == nullptr) return;
  put(page_, offsetof(HvReferenceTscPage, tsc_scale), state_.scale);
  put(page_, offsetof(HvReferenceTscPage, tsc_offset), state_.offset);
  put(page_, offsetof(HvReferenceTscPage, tsc_sequence), state_.sequence);
}

void ReferenceTscPage::trace(VirtualTime now, uint64_t tsc_hz) {
  tracer_.emit(TracePoint::kRefTscUpdate, now, kNoVp,
               {TraceField::u64("sequence", state_.sequence), TraceField::hex("scale", state_.scale),
                TraceField::i64("offset", state_.offset), TraceField::u64("tsc_hz", tsc_hz)});
}

}  // namespace hvsim::hv
