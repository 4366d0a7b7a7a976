#include "models/hv/hypercall/dispatcher.h"

#include <algorithm>
#include <cstring>

namespace hvsim::hv {

// The decoded hypercall input value (§3.1).
struct HypercallDispatcher::Control {
  uint64_t raw;
  uint16_t code;
  bool fast;
  uint32_t var_header_qwords;
  uint32_t rep_count;
  uint32_t rep_start;

  explicit Control(uint64_t v)
      : raw(v),
        code(static_cast<uint16_t>(v & HV_HYPERCALL_CODE_MASK)),
        fast((v & HV_HYPERCALL_FAST_BIT) != 0),
        var_header_qwords(static_cast<uint32_t>((v & HV_HYPERCALL_VARHEAD_MASK) >> HV_HYPERCALL_VARHEAD_OFFSET)),
        rep_count(static_cast<uint32_t>((v & HV_HYPERCALL_REP_COMP_MASK) >> HV_HYPERCALL_REP_COMP_OFFSET)),
        rep_start(static_cast<uint32_t>((v & HV_HYPERCALL_REP_START_MASK) >> HV_HYPERCALL_REP_START_OFFSET)) {}
};

// One row per implemented call: its class (§3.6), block sizes and the config flag that enables it.
struct HypercallDispatcher::Spec {
  enum class Feature : uint8_t {
    kLongSpinWait, kPostMessages, kSignalEvents, kTlbFlush, kTlbFlushEx, kClusterIpi, kClusterIpiEx,
    kVpRegisters, kDebugging
  };
  uint16_t code;
  const char* name;
  bool rep;
  bool variable_header;
  uint16_t input_size;           // fixed header
  uint16_t input_element_size;   // rep calls
  uint16_t output_element_size;  // rep calls
  uint16_t output_size;          // simple calls
  bool input_to_page_end;        // the input block runs from its GPA to the end of the page
  bool output_to_page_end;       // the output block likewise
  Feature feature;
  HandlerResult (HypercallHandlers::*handle)(const HypercallArgs&);
};

struct HypercallDispatcher::Result {
  uint16_t status = HV_STATUS_SUCCESS;
  uint32_t reps_done = 0;
  HypercallOutcome outcome;
  const char* name = "unknown";
};

namespace {

constexpr size_t kFastRegisterPairs = 7;  // RDX:R8 and XMM0..XMM5: 112 bytes (§3.2)
constexpr size_t kPage = HV_HYP_PAGE_SIZE;

constexpr size_t register_pairs(size_t bytes) { return (bytes + 15) / 16; }

// TLFS "Alignment Requirements": 8-byte aligned, within one page; an empty block's GPA is ignored.
uint16_t check_block(uint64_t gpa, size_t len) {
  if (len == 0) return HV_STATUS_SUCCESS;
  if (gpa % 8 != 0 || len > kPage - gpa % kPage) return HV_STATUS_INVALID_ALIGNMENT;
  return HV_STATUS_SUCCESS;
}

bool overlaps(uint64_t a, size_t a_len, uint64_t b, size_t b_len) {
  return a_len != 0 && b_len != 0 && a < b + b_len && b < a + a_len;
}

}  // namespace

const HypercallDispatcher::Spec* HypercallDispatcher::find_spec(uint16_t code) {
  using F = Spec::Feature;
  using H = HypercallHandlers;
  // code, name, rep, variable header, input, input element, output element, output,
  // input to page end, output to page end, feature, handler
  static constexpr Spec kSpecs[] = {
      {HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE, "FlushVirtualAddressSpace", false, false,
       sizeof(HvFlushVirtualAddressSpaceInput), 0, 0, 0, false, false, F::kTlbFlush, &H::flush_virtual_address_space},
      {HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST, "FlushVirtualAddressList", true, false,
       sizeof(HvFlushVirtualAddressSpaceInput), 8, 0, 0, false, false, F::kTlbFlush, &H::flush_virtual_address_list},
      {HVCALL_NOTIFY_LONG_SPIN_WAIT, "NotifyLongSpinWait", false, false,
       sizeof(HvNotifyLongSpinWaitInput), 0, 0, 0, false, false, F::kLongSpinWait, &H::notify_long_spin_wait},
      {HVCALL_SEND_SYNTHETIC_CLUSTER_IPI, "SendSyntheticClusterIpi", false, false,
       sizeof(HvSendSyntheticClusterIpiInput), 0, 0, 0, false, false, F::kClusterIpi, &H::send_synthetic_cluster_ipi},
      {HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, "FlushVirtualAddressSpaceEx", false, true,
       sizeof(HvFlushVirtualAddressSpaceExInput), 0, 0, 0, false, false, F::kTlbFlushEx,
       &H::flush_virtual_address_space_ex},
      {HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX, "FlushVirtualAddressListEx", true, true,
       sizeof(HvFlushVirtualAddressSpaceExInput), 8, 0, 0, false, false, F::kTlbFlushEx,
       &H::flush_virtual_address_list_ex},
      {HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX, "SendSyntheticClusterIpiEx", false, true,
       sizeof(HvSendSyntheticClusterIpiExInput), 0, 0, 0, false, false, F::kClusterIpiEx,
       &H::send_synthetic_cluster_ipi_ex},
      {HVCALL_GET_VP_REGISTERS, "GetVpRegisters", true, false, sizeof(HvGetSetVpRegistersInput),
       sizeof(uint32_t), sizeof(HvRegisterValue), 0, false, false, F::kVpRegisters, &H::get_vp_registers},
      {HVCALL_SET_VP_REGISTERS, "SetVpRegisters", true, false, sizeof(HvGetSetVpRegistersInput),
       sizeof(HvRegisterAssoc), 0, 0, false, false, F::kVpRegisters, &H::set_vp_registers},
      {HVCALL_POST_MESSAGE, "PostMessage", false, false, sizeof(HvPostMessageInput), 0, 0, 0, false, false,
       F::kPostMessages, &H::post_message},
      {HVCALL_SIGNAL_EVENT, "SignalEvent", false, false, sizeof(HvSignalEventInput), 0, 0, 0, false, false,
       F::kSignalEvents, &H::signal_event},
      {HVCALL_POST_DEBUG_DATA, "PostDebugData", false, false, sizeof(HvPostDebugDataInput), 0, 0,
       sizeof(HvPostDebugDataOutput), true, false, F::kDebugging, &H::post_debug_data},
      {HVCALL_RETRIEVE_DEBUG_DATA, "RetrieveDebugData", false, false, sizeof(HvRetrieveDebugDataInput), 0, 0,
       sizeof(HvRetrieveDebugDataOutput), false, true, F::kDebugging, &H::retrieve_debug_data},
      {HVCALL_RESET_DEBUG_SESSION, "ResetDebugSession", false, false, sizeof(HvResetDebugSessionInput), 0, 0,
       sizeof(HvResetDebugSessionOutput), false, false, F::kDebugging, &H::reset_debug_session},
  };
  for (const Spec& s : kSpecs) {
    if (s.code == code) return &s;
  }
  return nullptr;
}

HypercallDispatcher::HypercallDispatcher(HypercallTarget& target, const HypercallConfig& config, Tracer& tracer)
    : config_(config), tracer_(tracer), handlers_(target, config.extended_gva_ranges) {}

bool HypercallDispatcher::enabled(const Spec& s) const {
  switch (s.feature) {
    case Spec::Feature::kLongSpinWait: return config_.long_spin_wait;
    case Spec::Feature::kPostMessages: return config_.post_messages;
    case Spec::Feature::kSignalEvents: return config_.signal_events;
    case Spec::Feature::kTlbFlush: return config_.tlb_flush;
    case Spec::Feature::kTlbFlushEx: return config_.tlb_flush && config_.ex_processor_masks;
    case Spec::Feature::kClusterIpi: return config_.cluster_ipi;
    case Spec::Feature::kClusterIpiEx: return config_.cluster_ipi && config_.ex_processor_masks;
    case Spec::Feature::kVpRegisters: return config_.vp_registers;
    case Spec::Feature::kDebugging: return config_.debugging;
  }
  return false;
}

HypercallOutcome HypercallDispatcher::dispatch(VpIndex vp, VirtualTime now, HypercallIo& io) {
  Control c(io.control());
  Result r = run(vp, c, io);
  const char* outcome = r.outcome.ud ? "ud" : r.outcome.retry ? "retry" : "done";
  tracer_.emit(TracePoint::kHcall, now, static_cast<int>(vp),
               {TraceField::hex("code", c.code), TraceField::str_("name", r.name), TraceField::boolean("fast", c.fast),
                TraceField::u64("rep_count", c.rep_count), TraceField::u64("rep_start", c.rep_start),
                TraceField::u64("reps_done", r.reps_done), TraceField::hex("status", r.status),
                TraceField::str_("outcome", outcome)});
  return r.outcome;
}

HypercallDispatcher::Result HypercallDispatcher::run(VpIndex vp, const Control& c, HypercallIo& io) {
  Result r;
  auto finish = [&](uint16_t status, uint32_t reps_done) {
    r.status = status;
    r.reps_done = reps_done;
    io.set_result(hv_hypercall_result(status, reps_done));
    return r;
  };
  if (!io.is_64bit_mode() || io.cpl() != 0) {
    r.outcome.ud = true;
    return r;
  }
  if (c.raw & (HV_HYPERCALL_RSVD_MASK | HV_HYPERCALL_NESTED)) return finish(HV_STATUS_INVALID_HYPERCALL_INPUT, 0);
  const Spec* s = find_spec(c.code);
  if (!s) return finish(HV_STATUS_INVALID_HYPERCALL_CODE, 0);
  r.name = s->name;
  if (!enabled(*s)) return finish(HV_STATUS_ACCESS_DENIED, 0);
  bool bad_reps = s->rep ? (c.rep_count == 0 || c.rep_start >= c.rep_count) : (c.rep_count != 0 || c.rep_start != 0);
  if (bad_reps || (!s->variable_header && c.var_header_qwords != 0)) {
    return finish(HV_STATUS_INVALID_HYPERCALL_INPUT, 0);
  }

  size_t in_len = s->input_size + size_t{c.var_header_qwords} * 8 + size_t{c.rep_count} * s->input_element_size;
  size_t out_len = s->rep ? size_t{c.rep_count} * s->output_element_size : s->output_size;
  uint16_t st;
  if (c.fast) {
    if (s->input_to_page_end || s->output_to_page_end) return finish(HV_STATUS_INVALID_HYPERCALL_INPUT, 0);
    bool ud = false;
    st = load_fast(io, in_len, out_len, ud);
    if (ud) {
      r.outcome.ud = true;
      return r;
    }
  } else {
    if (s->input_to_page_end) in_len = kPage - io.input_gpa() % kPage;
    if (s->output_to_page_end) out_len = kPage - io.output_gpa() % kPage;
    st = load_memory(io, in_len, out_len);
  }
  if (st != HV_STATUS_SUCCESS) return finish(st, 0);
  std::fill_n(output_.begin(), std::min(register_pairs(out_len) * 16, kPage), uint8_t{0});

  HypercallArgs a;
  a.vp = vp;
  a.rep_count = c.rep_count;
  a.rep_start = c.rep_start;
  a.rep_end = s->rep ? std::min(c.rep_count, c.rep_start + std::max<uint32_t>(1, config_.max_reps_per_dispatch)) : 0;
  a.var_header_qwords = c.var_header_qwords;
  a.input = std::span<const uint8_t>(input_.data(), in_len);
  a.output = std::span<uint8_t>(output_.data(), out_len);
  HandlerResult h = (handlers_.*(s->handle))(a);

  // Rep calls store every completed element, even on failure; simple calls store only on success.
  size_t begin = 0;
  size_t end = 0;
  if (s->rep) {
    h.reps_done = std::clamp(h.reps_done, c.rep_start, a.rep_end);
    begin = size_t{c.rep_start} * s->output_element_size;
    end = size_t{h.reps_done} * s->output_element_size;
  } else if (h.status == HV_STATUS_SUCCESS) {
    end = std::min<size_t>(h.output_size, out_len);
  }
  uint32_t reps_done = s->rep ? h.reps_done : 0;
  if (end > begin && !store_output(c, io, in_len, begin, end)) return finish(HV_STATUS_INVALID_ALIGNMENT, 0);
  if (s->rep && h.status == HV_STATUS_SUCCESS && reps_done < c.rep_count) {
    io.set_control((c.raw & ~HV_HYPERCALL_REP_START_MASK) |
                   (uint64_t{reps_done} << HV_HYPERCALL_REP_START_OFFSET));
    r.reps_done = reps_done;
    r.outcome.retry = true;
    return r;
  }
  return finish(h.status, reps_done);
}

// Fast input: RDX, R8, then XMM0..XMM5 (TLFS "XMM Fast Hypercall Input"); fast output goes to the
// register pairs after the input's (TLFS "XMM Fast Hypercall Output"), here XMM registers only.
// A block too large for the registers, or output without XMM fast output, is
// INVALID_HYPERCALL_INPUT (OpenVMM hv1_hypercall); XMM input when not offered is #UD (TLFS).
uint16_t HypercallDispatcher::load_fast(const HypercallIo& io, size_t in_len, size_t out_len, bool& ud) {
  size_t in_pairs = register_pairs(in_len);
  size_t out_pairs = register_pairs(out_len);
  if (in_pairs > kFastRegisterPairs) return HV_STATUS_INVALID_HYPERCALL_INPUT;
  if (in_pairs > 1 && !(config_.xmm_input && io.xmm_fast_available())) {
    ud = true;
    return HV_STATUS_SUCCESS;
  }
  if (out_pairs > 0) {
    bool xmm_output = config_.xmm_output && io.xmm_fast_available();
    if (!xmm_output || in_pairs == 0 || in_pairs + out_pairs > kFastRegisterPairs) {
      return HV_STATUS_INVALID_HYPERCALL_INPUT;
    }
  }
  uint64_t qwords[2 * kFastRegisterPairs] = {};
  qwords[0] = io.input_gpa();
  qwords[1] = io.output_gpa();
  for (size_t i = 2; i < 2 * in_pairs; ++i) qwords[i] = io.xmm_input(static_cast<unsigned>(i - 2));
  std::memcpy(input_.data(), qwords, in_len);
  return HV_STATUS_SUCCESS;
}

// Memory input: both blocks placed per TLFS "Alignment Requirements", not overlapping, and inside
// guest memory ("not within the bounds of the GPA space" is INVALID_ALIGNMENT in the TLFS status
// table), read and written through the caller's view (io.memory()). The output block is probed by
// reading it and writing the same bytes back, so no handler runs when it cannot be stored.
uint16_t HypercallDispatcher::load_memory(HypercallIo& io, size_t in_len, size_t out_len) {
  PhysicalMemory& mem = io.memory();
  uint64_t in_gpa = io.input_gpa();
  uint64_t out_gpa = io.output_gpa();
  if (uint16_t st = check_block(in_gpa, in_len)) return st;
  if (uint16_t st = check_block(out_gpa, out_len)) return st;
  if (overlaps(in_gpa, in_len, out_gpa, out_len)) return HV_STATUS_INVALID_ALIGNMENT;
  if (in_len != 0 && !mem.read(in_gpa, input_.data(), in_len)) return HV_STATUS_INVALID_ALIGNMENT;
  if (out_len != 0 && !(mem.read(out_gpa, output_.data(), out_len) && mem.write(out_gpa, output_.data(), out_len))) {
    return HV_STATUS_INVALID_ALIGNMENT;
  }
  return HV_STATUS_SUCCESS;
}

bool HypercallDispatcher::store_output(const Control& c, HypercallIo& io, size_t in_len, size_t begin, size_t end) {
  if (!c.fast) return io.memory().write(io.output_gpa() + begin, output_.data() + begin, end - begin);
  size_t first_xmm_qword = 2 * register_pairs(in_len) - 2;  // in_len > 0 here (load_fast)
  for (size_t q = begin / 8; q < (end + 7) / 8; ++q) {
    uint64_t v;
    std::memcpy(&v, output_.data() + q * 8, sizeof v);
    io.set_xmm_output(static_cast<unsigned>(first_xmm_qword + q), v);
  }
  return true;
}

}  // namespace hvsim::hv
