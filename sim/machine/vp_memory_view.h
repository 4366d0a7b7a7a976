// One VP's view of guest-physical memory, for the accesses the hypervisor makes on that VP's
// behalf (hypercall parameter blocks, the crash message): what the VP's own loads and stores see.
// On Hyper-V an overlay page occupies its GPA (TLFS "GPA Overlay Pages"), so a page where an
// overlay is shown to this VP (OverlayPages::shown) reads and writes the overlay's host page; a
// write to an overlay the guest may not write (the hypercall page) is refused, like a write
// outside RAM, and nothing of that access is written. Every other page is guest RAM. Accesses
// may span pages.
#pragma once

#include "sim/core/physical_memory.h"
#include "sim/machine/overlays.h"
#include "sim/mem/guest_memory.h"

namespace hvsim {

class VpMemoryView final : public PhysicalMemory {
 public:
  VpMemoryView(GuestMemory& mem, const OverlayPages& overlays, int vp) : mem_(mem), overlays_(overlays), vp_(vp) {}
  bool read(uint64_t gpa, void* dst, size_t len) override;
  bool write(uint64_t gpa, const void* src, size_t len) override;

 private:
  GuestMemory& mem_;
  const OverlayPages& overlays_;
  int vp_;
};

}  // namespace hvsim
