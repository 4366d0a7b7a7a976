#include "models/vmbus/interrupt_page.h"

#include <array>
#include <bit>

#include "models/vmbus/protocol.h"

namespace hvsim::vmbus {

InterruptPage::InterruptPage(PhysicalMemory& mem, uint64_t gpa)
    : mem_(&mem), gpa_(gpa), usable_(gpa != 0 && mem.holds_page(gpa)) {}

bool InterruptPage::raise(uint32_t relid) {
  if (!usable_ || relid >= kHalfBytes * 8) return false;
  const uint64_t at = gpa_ + relid / 8;
  uint8_t byte = 0;
  if (!mem_->read(at, &byte, 1)) return false;
  byte = static_cast<uint8_t>(byte | (1u << (relid % 8)));
  return mem_->write(at, &byte, 1);
}

InterruptPage::GuestSignals InterruptPage::take_guest_signals() {
  GuestSignals out;
  if (!usable_) return out;
  std::array<uint64_t, kHalfBytes / 8> words{};
  if (!mem_->read(gpa_ + kHalfBytes, words.data(), sizeof words)) return out;
  for (size_t w = 0; w < words.size(); ++w) {
    uint64_t bits = words[w];
    if (bits == 0) continue;
    const uint64_t zero = 0;
    mem_->write(gpa_ + kHalfBytes + 8 * w, &zero, sizeof zero);
    while (bits != 0) {
      const auto relid = static_cast<uint32_t>(64 * w + static_cast<size_t>(std::countr_zero(bits)));
      bits &= bits - 1;
      if (relid == 0 || relid > kMaxRelid)
        ++out.stray;
      else
        out.relids.push_back(relid);
    }
  }
  return out;
}

}  // namespace hvsim::vmbus
