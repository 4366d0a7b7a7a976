// Monitored notification (PROTOCOL.md §5.8): the guest signals a channel by setting a bit in the
// child->parent monitor page instead of calling HvCallSignalEvent, and the host finds the bits by
// scanning the page periodically (Hyper-V's way; OpenVMM traps writes instead).
//
// MonitorPages owns the host's view of the two guest pages named in INITIATE_CONTACT and the
// allocation of monitor ids 0..127 (group id / 32, bit id % 32). For each allocated id it writes
// the group's enable bit in trigger_state, the id's parameter {connection_id, flag 0} and its
// latency (in 100 ns units, an hvsim choice: no public source gives Hyper-V's unit or value) into
// the child->parent page, and the latency into the parent->child page too (Linux shows both in
// sysfs). scan() reads and clears the pending bits of the enabled groups and returns the ids whose
// bit was set; bits of ids released since they were last allocated (a signal that raced a rescind)
// are cleared silently, and bits of ids never given out are cleared and reported separately. Guest memory failures are values (the page is then ignored).
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <vector>

#include "sim/core/physical_memory.h"
#include "sim/core/virtual_time.h"

namespace hvsim::vmbus {

class MonitorPages {
 public:
  static constexpr unsigned kIds = 128;
  static constexpr size_t kTriggerStateOffset = 0;
  static constexpr size_t kTriggerGroupOffset = 8;   // {u32 pending, u32 armed} x 4
  static constexpr size_t kLatencyOffset = 576;      // u16 [4][32]
  static constexpr size_t kParameterOffset = 1088;   // {u32 connection_id, u16 flag, u16 rsvd} [4][32]

  MonitorPages(PhysicalMemory& mem, uint64_t parent_to_child_gpa, uint64_t child_to_parent_gpa, VirtualTime latency);

  // Both pages are page-aligned RAM (checked at construction).
  bool usable() const { return usable_; }
  // The lowest free id, with its parameter and latency written; nullopt when all 128 are taken.
  std::optional<uint8_t> allocate(uint32_t connection_id);
  // Takes `id` (< kIds) for `connection_id` as allocate() would: a channel keeps the id its offer
  // carried when the guest moves the connection to other pages (MODIFY_CONNECTION, 6.0).
  void claim(uint8_t id, uint32_t connection_id);
  void release(uint8_t id);
  bool any_allocated() const { return allocated_.any(); }

  struct Scan {
    std::vector<uint8_t> ids;      // allocated ids whose pending bit was set
    uint32_t stray_bits = 0;       // set bits of ids nobody was given
  };
  Scan scan();

 private:
  bool write_u32(uint64_t gpa, uint32_t v) { return mem_.write(gpa, &v, sizeof v); }

  PhysicalMemory& mem_;
  uint64_t p2c_, c2p_;
  uint16_t latency_100ns_;
  bool usable_ = false;
  std::bitset<kIds> allocated_;
  std::bitset<kIds> released_;  // given out once and released since
};

}  // namespace hvsim::vmbus
