// Overlay pages (TLFS "Sharing Memory"; Linux Documentation/virt/hyperv/overview.rst): host pages
// that hide a guest page while enabled. Each overlay is partition-wide (the hypercall page, the
// reference TSC page) or belongs to one VP (SIMP, SIEFP, VP assist page) and is seen only by the
// VPs it belongs to. Enabling one at a GPA hides what was visible there; moving or disabling it
// shows what is underneath again: another overlay enabled earlier at the same GPA, or the guest's
// own RAM, unchanged. Out-of-RAM or misaligned placements are refused (the caller turns that
// into #GP). Every change is traced.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/trace.h"
#include "sim/mem/guest_memory.h"

namespace hvsim {

class OverlayPages {
 public:
  // Called to show `overlay` (or RAM when nullopt) at `gpa` for one VP.
  using Backing = std::function<void(int vp, uint64_t gpa, std::optional<uint32_t> overlay)>;
  OverlayPages(GuestMemory& mem, unsigned vcpu_count, Backing backing, Tracer& tracer);

  struct Id { uint32_t value; };
  // Allocates an overlay page; vp = kNoVp for a partition-wide one. `name` appears in traces;
  // `access` is what the guest may do with it (GuestMemory::GuestAccess).
  Id create(std::string name, int vp, GuestMemory::GuestAccess access);
  uint8_t* page(Id id) const { return slots_[id.value].page.host; }
  // Shows the overlay at `gpa` (page-aligned, inside RAM) or hides it (nullopt). False: refused.
  bool place(Id id, std::optional<uint64_t> gpa, VirtualTime now);
  std::optional<uint64_t> placement(Id id) const { return slots_[id.value].gpa; }
  // The index of the overlay page VP `vp` now sees at page-aligned `gpa`, or nullopt (its RAM).
  std::optional<uint32_t> shown(int vp, uint64_t gpa) const;

 private:
  struct Slot {
    std::string name;
    int vp;
    GuestMemory::OverlayPage page;
    std::optional<uint64_t> gpa;
    uint64_t activation = 0;  // later enables win
  };
  void refresh(uint64_t gpa);
  std::optional<uint32_t> visible(int vp, uint64_t gpa) const;

  GuestMemory& mem_;
  unsigned vcpu_count_;
  Backing backing_;
  Tracer& tracer_;
  std::vector<Slot> slots_;
  std::map<std::pair<int, uint64_t>, uint32_t> shown_;  // (vp, gpa) -> overlay index now mapped
  uint64_t activations_ = 0;
};

}  // namespace hvsim
