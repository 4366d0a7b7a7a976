// Handlers for the hypercalls a Linux guest makes (PROTOCOL.md §3.6, §3.6.1, §3.6.2, §4.5): post
// message, signal event, long spin wait, TLB flushes, cluster IPIs, Get/SetVpRegisters and the
// synthetic-debugger calls. The dispatcher has already checked the control word and the parameter
// block placement and copied the input in; a handler validates every field of it, acts through a
// HypercallTarget (the host side: ports, VPs, interrupts) and fills the output. Host effects are
// never partial for simple calls: all validation happens before the first effect.
// Omitted: VTLs other than 0 (a non-zero target VTL is INVALID_PARAMETER), the extended GVA range
// format (HV_FLUSH_USE_EXTENDED_RANGE_FORMAT is not offered), a real debugger transport (the debug
// calls are a bounded loopback).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "models/hv/hvdef_hypercall.h"
#include "models/hv/model_support.h"

namespace hvsim::hv {

// The host side of the hypercalls. Called synchronously from dispatch(); must not call back into
// the dispatcher.
class HypercallTarget {
 public:
  virtual ~HypercallTarget() = default;
  // Routes by connection id (24-bit, §4.5) to whatever registered it (VMBus host, test port).
  // Returns an HV_STATUS: INVALID_CONNECTION_ID if nobody, INSUFFICIENT_BUFFERS when the port's
  // queue is full, INVALID_PARAMETER for a flag beyond the port's flag count, ...
  virtual uint16_t post_message(VpIndex vp, uint32_t connection_id, uint32_t message_type,
                                const uint8_t* payload, uint32_t size) = 0;
  virtual uint16_t signal_event(VpIndex vp, uint32_t connection_id, uint16_t flag_number) = 0;
  virtual uint32_t vp_count() const = 0;
  virtual void send_ipi(VpIndex target, uint8_t vector) = 0;  // fixed interrupt
  virtual void flush_tlb(VpIndex vp) = 0;                     // hvsim has no TLB model: trace only
  virtual void notify_long_spin_wait(VpIndex vp, uint32_t count) = 0;
  // `vp` is the VP whose register is accessed (HV_VP_INDEX_SELF already resolved, < vp_count()).
  virtual std::optional<uint64_t> get_vp_register(VpIndex vp, uint32_t name) = 0;  // nullopt: invalid name
  virtual uint16_t set_vp_register(VpIndex vp, uint32_t name, uint64_t value) = 0;  // HV_STATUS
};

// One call as the dispatcher hands it over.
struct HypercallArgs {
  VpIndex vp = 0;  // the caller
  uint32_t rep_count = 0;
  uint32_t rep_start = 0;
  uint32_t rep_end = 0;  // rep calls process elements [rep_start, rep_end)
  uint32_t var_header_qwords = 0;
  std::span<const uint8_t> input;  // fixed header, variable header, then every rep element
  std::span<uint8_t> output;       // zeroed; rep calls: element i at i * element size
};

struct HandlerResult {
  uint16_t status = HV_STATUS_SUCCESS;
  uint32_t reps_done = 0;    // rep calls: index of the first element not completed
  uint32_t output_size = 0;  // simple calls: bytes of `output` stored to the guest on success
};

// Capacity of the debug loopback buffer (bytes posted and not yet retrieved).
constexpr size_t kDebugLoopbackCapacity = 16 * 1024;

class HypercallHandlers {
 public:
  // `extended_gva_ranges`: the flush calls accept HV_FLUSH_USE_EXTENDED_RANGE_FORMAT (offered with
  // CPUID 0x40000003 EDX b14). No TLB is modelled, so the GVA list format changes nothing else.
  explicit HypercallHandlers(HypercallTarget& target, bool extended_gva_ranges = false)
      : target_(target), extended_gva_ranges_(extended_gva_ranges) {}

  HandlerResult post_message(const HypercallArgs& a);
  HandlerResult signal_event(const HypercallArgs& a);
  HandlerResult notify_long_spin_wait(const HypercallArgs& a);
  HandlerResult flush_virtual_address_space(const HypercallArgs& a);
  HandlerResult flush_virtual_address_list(const HypercallArgs& a);
  HandlerResult flush_virtual_address_space_ex(const HypercallArgs& a);
  HandlerResult flush_virtual_address_list_ex(const HypercallArgs& a);
  HandlerResult send_synthetic_cluster_ipi(const HypercallArgs& a);
  HandlerResult send_synthetic_cluster_ipi_ex(const HypercallArgs& a);
  HandlerResult get_vp_registers(const HypercallArgs& a);
  HandlerResult set_vp_registers(const HypercallArgs& a);
  // Loopback: PostDebugData appends, RetrieveDebugData takes from the front (NO_DATA when empty;
  // the timeout is not waited for), ResetDebugSession empties it and reports zero addresses.
  HandlerResult post_debug_data(const HypercallArgs& a);
  HandlerResult retrieve_debug_data(const HypercallArgs& a);
  HandlerResult reset_debug_session(const HypercallArgs& a);

  size_t debug_pending() const { return state_.debug_bytes.size(); }
  void reset() { state_ = State{}; }

 private:
  struct State {
    std::vector<uint8_t> debug_bytes;  // at most kDebugLoopbackCapacity
  };
  // A processor set: all VPs, or up to 64 banks of 64 VPs (bank i bit j = VP 64i+j).
  struct VpSet {
    bool all = false;
    uint64_t valid_bank_mask = 0;
    uint64_t banks[HV_VP_SET_BANK_COUNT_MAX] = {};  // indexed by bank number
  };
  static bool contains(const VpSet& set, VpIndex vp);
  uint16_t parse_sparse_set(const HvVpSet& head, const HypercallArgs& a, size_t banks_offset,
                            VpSet& out) const;
  void flush(const HypercallArgs& a, uint64_t flags, VpSet set);
  void send_ipis(uint32_t vector, const VpSet& set);
  uint16_t resolve_vp(const HvGetSetVpRegistersInput& head, VpIndex caller, VpIndex& vp) const;

  HypercallTarget& target_;
  bool extended_gva_ranges_;
  State state_;
};

}  // namespace hvsim::hv
