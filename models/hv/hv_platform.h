// What the Hyper-V partition model asks of the machine that hosts it: overlay pages (shown over
// guest RAM at a GPA, for one VP or all), each VP's view of guest memory, partition reset, crash
// notification, guest idle, and per-VP run time. Implemented by the machine; tests use a
// recording fake.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "models/hv/model_support.h"

namespace hvsim::hv {

enum class OverlayKind : uint8_t { kHypercall, kReferenceTsc, kVpAssist, kSimp, kSiefp };

struct CrashReport {
  std::array<uint64_t, 5> params{};  // CRASH_P0..P4
  std::string message;                // from P3 (GPA) / P4 (length) when CrashMessage was set
};

class HvPlatform {
 public:
  virtual ~HvPlatform() = default;
  // Shows the overlay at page-aligned `gpa`, or hides it (nullopt); false if `gpa` is not RAM.
  // Partition-wide kinds ignore `vp`.
  virtual bool place_overlay(OverlayKind kind, VpIndex vp, std::optional<uint64_t> gpa) = 0;
  // The overlay's 4096-byte host page (valid for the machine's lifetime).
  virtual uint8_t* overlay_page(OverlayKind kind, VpIndex vp) = 0;
  // Guest memory as VP `vp` sees it (overlays shown to it included), for reads the hypervisor
  // makes on the VP's behalf (the crash message).
  virtual PhysicalMemory& vp_memory(VpIndex vp) = 0;
  virtual void reset_partition() = 0;
  virtual void crash_notify(const CrashReport& report) = 0;
  // GUEST_IDLE: the VP waits until an interrupt is pending, even with interrupts disabled.
  virtual void guest_idle(VpIndex vp) = 0;
  // Virtual time the VP has spent running (not halted or parked).
  virtual VirtualTime vp_run_time(VpIndex vp) = 0;
  // The guest-visible TSC of the VP at `now` (what RDTSC would return).
  virtual uint64_t guest_tsc(VpIndex vp, VirtualTime now) = 0;
};

}  // namespace hvsim::hv
