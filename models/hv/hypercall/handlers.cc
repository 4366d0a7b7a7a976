#include "models/hv/hypercall/handlers.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "sim/core/status.h"

namespace hvsim::hv {
namespace {

// The dispatcher sizes every input from the call's table entry, so a short block is a simulator bug.
template <class T>
T load(std::span<const uint8_t> in, size_t offset = 0) {
  SIM_ASSERT(offset + sizeof(T) <= in.size(), "hypercall input shorter than its layout");
  T v;
  std::memcpy(&v, in.data() + offset, sizeof(T));
  return v;
}

template <class T>
void store(std::span<uint8_t> out, size_t offset, const T& v) {
  SIM_ASSERT(offset + sizeof(T) <= out.size(), "hypercall output shorter than its layout");
  std::memcpy(out.data() + offset, &v, sizeof(T));
}

bool any_nonzero(const uint8_t* p, size_t n) {
  return std::any_of(p, p + n, [](uint8_t b) { return b != 0; });
}

// HV_INPUT_VTL: hvsim has VTL 0 only, so the byte is 0 (caller's VTL) or "use target VTL 0".
bool valid_input_vtl(uint8_t vtl) { return vtl == 0 || vtl == HV_INPUT_VTL_USE_TARGET; }

// Flush flags (§3.6.1): bits 63:4 reserved; the extended range format (b3) only when offered
// (CPUID 0x40000003 EDX b14); NON_GLOBAL_MAPPINGS_ONLY is "an invalid option" for the list calls
// (TLFS HvCallFlushVirtualAddressList).
uint16_t check_flush_flags(uint64_t flags, bool list, bool extended_gva_ranges) {
  const uint64_t known = HV_FLUSH_ALL_PROCESSORS | HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES |
                         HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY |
                         (extended_gva_ranges ? HV_FLUSH_USE_EXTENDED_RANGE_FORMAT : 0);
  if (flags & ~known) return HV_STATUS_INVALID_PARAMETER;
  if (list && (flags & HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY)) return HV_STATUS_INVALID_PARAMETER;
  return HV_STATUS_SUCCESS;
}

// Cluster IPI fields (TLFS HvCallSendSyntheticClusterIpi: vector 0x10..0xFF; OpenVMM answers
// INVALID_PARAMETER for a bad vector and for non-zero padding).
uint16_t check_ipi(uint32_t vector, uint8_t target_vtl, const uint8_t (&reserved)[3]) {
  if (any_nonzero(reserved, sizeof reserved) || !valid_input_vtl(target_vtl)) return HV_STATUS_INVALID_PARAMETER;
  if (vector < HV_IPI_LOW_VECTOR || vector > HV_IPI_HIGH_VECTOR) return HV_STATUS_INVALID_PARAMETER;
  return HV_STATUS_SUCCESS;
}

HandlerResult status_only(uint16_t status) { return HandlerResult{status, 0, 0}; }

}  // namespace

// ---- SynIC ports (§3.6, §4.5) ------------------------------------------------------------------

// TLFS HvCallPostMessage: INVALID_PARAMETER for message type 0 or b31 set, or payload > 240 bytes.
// RsvdZ fields are INVALID_PARAMETER too; a connection id with its reserved byte set names no
// connection.
HandlerResult HypercallHandlers::post_message(const HypercallArgs& a) {
  auto in = load<HvPostMessageInput>(a.input);
  if (in.reserved != 0) return status_only(HV_STATUS_INVALID_PARAMETER);
  if (in.message_type == 0 || (in.message_type & HV_MESSAGE_TYPE_HYPERVISOR_BIT)) {
    return status_only(HV_STATUS_INVALID_PARAMETER);
  }
  if (in.payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT) return status_only(HV_STATUS_INVALID_PARAMETER);
  if (in.connection_id & ~HV_CONNECTION_ID_MASK) return status_only(HV_STATUS_INVALID_CONNECTION_ID);
  return status_only(target_.post_message(a.vp, in.connection_id, in.message_type, in.payload, in.payload_size));
}

// TLFS HvCallSignalEvent: a flag number beyond the port's flag count is INVALID_PARAMETER; no port
// has more flags than one SINT's SIEF area (2048), the target checks its own count.
HandlerResult HypercallHandlers::signal_event(const HypercallArgs& a) {
  auto in = load<HvSignalEventInput>(a.input);
  if (in.reserved != 0 || in.flag_number >= HV_EVENT_FLAGS_COUNT) return status_only(HV_STATUS_INVALID_PARAMETER);
  if (in.connection_id & ~HV_CONNECTION_ID_MASK) return status_only(HV_STATUS_INVALID_CONNECTION_ID);
  return status_only(target_.signal_event(a.vp, in.connection_id, in.flag_number));
}

HandlerResult HypercallHandlers::notify_long_spin_wait(const HypercallArgs& a) {
  auto in = load<HvNotifyLongSpinWaitInput>(a.input);
  if (in.reserved != 0) return status_only(HV_STATUS_INVALID_PARAMETER);
  target_.notify_long_spin_wait(a.vp, in.spin_count);
  return status_only(HV_STATUS_SUCCESS);
}

// ---- Processor sets (§3.6.2) ---------------------------------------------------------------------

bool HypercallHandlers::contains(const VpSet& set, VpIndex vp) {
  if (set.all) return true;
  uint32_t bank = vp / 64;
  if (bank >= HV_VP_SET_BANK_COUNT_MAX || !((set.valid_bank_mask >> bank) & 1)) return false;
  return (set.banks[bank] >> (vp % 64)) & 1;
}

// The banks are the variable header: one qword per set bit of valid_bank_mask, in increasing bank
// order. A variable header size that disagrees with the mask is INVALID_HYPERCALL_INPUT (KVM
// kvm_hv_flush_tlb / kvm_hv_send_ipi); an unknown format is INVALID_PARAMETER (OpenVMM).
uint16_t HypercallHandlers::parse_sparse_set(const HvVpSet& head, const HypercallArgs& a, size_t banks_offset,
                                             VpSet& out) const {
  if (head.format != HV_GENERIC_SET_SPARSE_4K && head.format != HV_GENERIC_SET_ALL) {
    return HV_STATUS_INVALID_PARAMETER;
  }
  if (static_cast<uint32_t>(std::popcount(head.valid_bank_mask)) != a.var_header_qwords) {
    return HV_STATUS_INVALID_HYPERCALL_INPUT;
  }
  if (head.format == HV_GENERIC_SET_ALL) {
    out.all = true;
    return HV_STATUS_SUCCESS;
  }
  out.valid_bank_mask = head.valid_bank_mask;
  size_t offset = banks_offset;
  for (uint32_t bank = 0; bank < HV_VP_SET_BANK_COUNT_MAX; ++bank) {
    if (!((head.valid_bank_mask >> bank) & 1)) continue;
    out.banks[bank] = load<uint64_t>(a.input, offset);
    offset += sizeof(uint64_t);
  }
  return HV_STATUS_SUCCESS;
}

// ---- TLB flushes (§3.6, §3.6.1) --------------------------------------------------------------------

// Set bits naming VPs that do not exist are ignored (KVM). The GVA list entries need no checks
// ("invalid GVAs are ignored", TLFS HvCallFlushVirtualAddressList); a list call flushes once, on
// the dispatch that completes it.
void HypercallHandlers::flush(const HypercallArgs& a, uint64_t flags, VpSet set) {
  if (a.rep_end != a.rep_count) return;
  if (flags & HV_FLUSH_ALL_PROCESSORS) set.all = true;
  uint32_t count = target_.vp_count();
  for (VpIndex vp = 0; vp < count; ++vp) {
    if (contains(set, vp)) target_.flush_tlb(vp);
  }
}

HandlerResult HypercallHandlers::flush_virtual_address_space(const HypercallArgs& a) {
  auto in = load<HvFlushVirtualAddressSpaceInput>(a.input);
  if (uint16_t st = check_flush_flags(in.flags, false, extended_gva_ranges_)) return status_only(st);
  VpSet set;
  set.valid_bank_mask = 1;
  set.banks[0] = in.processor_mask;
  flush(a, in.flags, set);
  return status_only(HV_STATUS_SUCCESS);
}

HandlerResult HypercallHandlers::flush_virtual_address_list(const HypercallArgs& a) {
  auto in = load<HvFlushVirtualAddressSpaceInput>(a.input);
  if (uint16_t st = check_flush_flags(in.flags, true, extended_gva_ranges_)) return HandlerResult{st, a.rep_start, 0};
  VpSet set;
  set.valid_bank_mask = 1;
  set.banks[0] = in.processor_mask;
  flush(a, in.flags, set);
  return HandlerResult{HV_STATUS_SUCCESS, a.rep_end, 0};
}

HandlerResult HypercallHandlers::flush_virtual_address_space_ex(const HypercallArgs& a) {
  auto in = load<HvFlushVirtualAddressSpaceExInput>(a.input);
  if (uint16_t st = check_flush_flags(in.flags, false, extended_gva_ranges_)) return status_only(st);
  VpSet set;
  if (uint16_t st = parse_sparse_set(in.vp_set, a, sizeof in, set)) return status_only(st);
  flush(a, in.flags, set);
  return status_only(HV_STATUS_SUCCESS);
}

HandlerResult HypercallHandlers::flush_virtual_address_list_ex(const HypercallArgs& a) {
  auto in = load<HvFlushVirtualAddressSpaceExInput>(a.input);
  if (uint16_t st = check_flush_flags(in.flags, true, extended_gva_ranges_)) return HandlerResult{st, a.rep_start, 0};
  VpSet set;
  if (uint16_t st = parse_sparse_set(in.vp_set, a, sizeof in, set)) return HandlerResult{st, a.rep_start, 0};
  flush(a, in.flags, set);
  return HandlerResult{HV_STATUS_SUCCESS, a.rep_end, 0};
}

// ---- Cluster IPIs (§3.6, §3.6.2) -------------------------------------------------------------------

// Targets are interrupted in increasing VP order; VPs that do not exist are ignored (KVM, OpenVMM).
void HypercallHandlers::send_ipis(uint32_t vector, const VpSet& set) {
  uint32_t count = target_.vp_count();
  for (VpIndex vp = 0; vp < count; ++vp) {
    if (contains(set, vp)) target_.send_ipi(vp, static_cast<uint8_t>(vector));
  }
}

HandlerResult HypercallHandlers::send_synthetic_cluster_ipi(const HypercallArgs& a) {
  auto in = load<HvSendSyntheticClusterIpiInput>(a.input);
  if (uint16_t st = check_ipi(in.vector, in.target_vtl, in.reserved)) return status_only(st);
  VpSet set;
  set.valid_bank_mask = 1;
  set.banks[0] = in.processor_mask;
  send_ipis(in.vector, set);
  return status_only(HV_STATUS_SUCCESS);
}

HandlerResult HypercallHandlers::send_synthetic_cluster_ipi_ex(const HypercallArgs& a) {
  auto in = load<HvSendSyntheticClusterIpiExInput>(a.input);
  if (uint16_t st = check_ipi(in.vector, in.target_vtl, in.reserved)) return status_only(st);
  VpSet set;
  if (uint16_t st = parse_sparse_set(in.vp_set, a, sizeof in, set)) return status_only(st);
  send_ipis(in.vector, set);
  return status_only(HV_STATUS_SUCCESS);
}

// ---- Get/SetVpRegisters (§3.6, §2.10) ------------------------------------------------------------

// TLFS HvCallGetVpRegisters: the partition must be "self"; the VP is HV_VP_INDEX_SELF or an
// existing index (else INVALID_VP_INDEX).
uint16_t HypercallHandlers::resolve_vp(const HvGetSetVpRegistersInput& head, VpIndex caller, VpIndex& vp) const {
  if (head.partition_id != HV_PARTITION_ID_SELF) return HV_STATUS_INVALID_PARTITION_ID;
  if (!valid_input_vtl(head.input_vtl) || any_nonzero(head.reserved, sizeof head.reserved)) {
    return HV_STATUS_INVALID_PARAMETER;
  }
  vp = head.vp_index == HV_VP_INDEX_SELF ? caller : head.vp_index;
  return vp < target_.vp_count() ? HV_STATUS_SUCCESS : HV_STATUS_INVALID_VP_INDEX;
}

// An unknown register name stops the list with INVALID_PARAMETER (reps completed = its index).
HandlerResult HypercallHandlers::get_vp_registers(const HypercallArgs& a) {
  auto head = load<HvGetSetVpRegistersInput>(a.input);
  VpIndex vp = 0;
  if (uint16_t st = resolve_vp(head, a.vp, vp)) return HandlerResult{st, a.rep_start, 0};
  for (uint32_t i = a.rep_start; i < a.rep_end; ++i) {
    auto name = load<uint32_t>(a.input, sizeof head + size_t{i} * sizeof(uint32_t));
    std::optional<uint64_t> value = target_.get_vp_register(vp, name);
    if (!value) return HandlerResult{HV_STATUS_INVALID_PARAMETER, i, 0};
    store(a.output, size_t{i} * sizeof(HvRegisterValue), HvRegisterValue{*value, 0});
  }
  return HandlerResult{HV_STATUS_SUCCESS, a.rep_end, 0};
}

// Reserved fields and a non-zero upper half (every register hvsim has is 64-bit) are
// INVALID_PARAMETER; the target's own status stops the list at that element.
HandlerResult HypercallHandlers::set_vp_registers(const HypercallArgs& a) {
  auto head = load<HvGetSetVpRegistersInput>(a.input);
  VpIndex vp = 0;
  if (uint16_t st = resolve_vp(head, a.vp, vp)) return HandlerResult{st, a.rep_start, 0};
  for (uint32_t i = a.rep_start; i < a.rep_end; ++i) {
    auto assoc = load<HvRegisterAssoc>(a.input, sizeof head + size_t{i} * sizeof(HvRegisterAssoc));
    if (assoc.reserved1 != 0 || assoc.reserved2 != 0 || assoc.value.high != 0) {
      return HandlerResult{HV_STATUS_INVALID_PARAMETER, i, 0};
    }
    uint16_t st = target_.set_vp_register(vp, assoc.name, assoc.value.low);
    if (st != HV_STATUS_SUCCESS) return HandlerResult{st, i, 0};
  }
  return HandlerResult{HV_STATUS_SUCCESS, a.rep_end, 0};
}

// ---- Synthetic debugger loopback (§3.6: 0x69-0x6B) --------------------------------------------------
// The input of PostDebugData and the output of RetrieveDebugData run to the end of their page; the
// options fields are not interpreted.

HandlerResult HypercallHandlers::post_debug_data(const HypercallArgs& a) {
  auto in = load<HvPostDebugDataInput>(a.input);
  if (in.count > a.input.size() - sizeof in) return status_only(HV_STATUS_INVALID_PARAMETER);
  if (state_.debug_bytes.size() + in.count > kDebugLoopbackCapacity) {
    return status_only(HV_STATUS_INSUFFICIENT_BUFFERS);
  }
  const uint8_t* data = a.input.data() + sizeof in;
  state_.debug_bytes.insert(state_.debug_bytes.end(), data, data + in.count);
  store(a.output, 0, HvPostDebugDataOutput{static_cast<uint32_t>(state_.debug_bytes.size()), 0});
  return HandlerResult{HV_STATUS_SUCCESS, 0, sizeof(HvPostDebugDataOutput)};
}

HandlerResult HypercallHandlers::retrieve_debug_data(const HypercallArgs& a) {
  auto in = load<HvRetrieveDebugDataInput>(a.input);
  if (in.count > a.output.size() - sizeof(HvRetrieveDebugDataOutput)) return status_only(HV_STATUS_INVALID_PARAMETER);
  if (state_.debug_bytes.empty()) return status_only(HV_STATUS_NO_DATA);
  size_t n = std::min<size_t>(in.count, state_.debug_bytes.size());
  auto first = state_.debug_bytes.begin();
  std::copy(first, first + static_cast<std::ptrdiff_t>(n), a.output.begin() + sizeof(HvRetrieveDebugDataOutput));
  state_.debug_bytes.erase(first, first + static_cast<std::ptrdiff_t>(n));
  store(a.output, 0,
        HvRetrieveDebugDataOutput{static_cast<uint32_t>(n), static_cast<uint32_t>(state_.debug_bytes.size())});
  return HandlerResult{HV_STATUS_SUCCESS, 0, static_cast<uint32_t>(sizeof(HvRetrieveDebugDataOutput) + n)};
}

HandlerResult HypercallHandlers::reset_debug_session(const HypercallArgs& a) {
  auto in = load<HvResetDebugSessionInput>(a.input);
  if (in.reserved != 0) return status_only(HV_STATUS_INVALID_PARAMETER);
  state_.debug_bytes.clear();
  store(a.output, 0, HvResetDebugSessionOutput{});
  return HandlerResult{HV_STATUS_SUCCESS, 0, sizeof(HvResetDebugSessionOutput)};
}

}  // namespace hvsim::hv
