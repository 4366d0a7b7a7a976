#include "sim/machine/hv_host.h"

#include "models/hv/hvdef_hypercall.h"
#include "models/hv/hypercall/privileges.h"

namespace hvsim {
namespace {

// The hypercall registers of one vCPU (TLFS x64 convention, PROTOCOL.md §3.2).
class VcpuHypercallIo final : public hv::HypercallIo {
 public:
  VcpuHypercallIo(VcpuContext& v, PhysicalMemory& view, bool xmm) : v_(v), view_(view), xmm_(xmm) {}
  uint64_t control() const override { return v_.reg(Reg::kRcx); }
  uint64_t input_gpa() const override { return v_.reg(Reg::kRdx); }
  uint64_t output_gpa() const override { return v_.reg(Reg::kR8); }
  bool xmm_fast_available() const override { return xmm_; }
  uint64_t xmm_input(unsigned qword) const override {
    uint64_t x[2];
    v_.read_xmm(qword / 2, x);
    return x[qword % 2];
  }
  void set_xmm_output(unsigned qword, uint64_t value) override {
    uint64_t x[2];
    v_.read_xmm(qword / 2, x);
    x[qword % 2] = value;
    v_.write_xmm(qword / 2, x);
  }
  void set_result(uint64_t rax) override { v_.set_reg(Reg::kRax, rax); }
  void set_control(uint64_t rcx) override { v_.set_reg(Reg::kRcx, rcx); }
  bool is_64bit_mode() const override { return v_.in_64bit_mode(); }
  unsigned cpl() const override { return v_.cpl(); }
  PhysicalMemory& memory() override { return view_; }

 private:
  VcpuContext& v_;
  PhysicalMemory& view_;
  bool xmm_;
};

}  // namespace

HvHost::HvHost(const hv::PartitionParams& params, GuestMemory& mem, HvMachine& machine, Tracer& tracer)
    : machine_(machine),
      overlays_(mem, params.vcpu_count,
                [this](int vp, uint64_t gpa, std::optional<uint32_t> o) { machine_.hv_set_page(vp, gpa, o); }, tracer),
      partition_(params, static_cast<hv::HvPlatform&>(*this), static_cast<hv::InterruptSink&>(*this), tracer),
      dispatcher_(static_cast<hv::HypercallTarget&>(*this), hv::hypercall_privileges(params.hv), tracer) {
  // TLFS (PROTOCOL.md §2.3): the hypercall page is read/execute for the guest, a write is #GP.
  // No source gives a write rule for the other overlays: the guest may write them.
  using Access = GuestMemory::GuestAccess;
  overlay_ids_[{hv::OverlayKind::kHypercall, kNoVp}] = overlays_.create("hypercall", kNoVp, Access::kReadExecute);
  overlay_ids_[{hv::OverlayKind::kReferenceTsc, kNoVp}] = overlays_.create("reference_tsc", kNoVp, Access::kReadWrite);
  views_.reserve(params.vcpu_count);
  for (uint32_t v = 0; v < params.vcpu_count; ++v) {
    int vp = static_cast<int>(v);
    views_.emplace_back(mem, overlays_, vp);
    overlay_ids_[{hv::OverlayKind::kVpAssist, vp}] = overlays_.create("vp_assist", vp, Access::kReadWrite);
    overlay_ids_[{hv::OverlayKind::kSimp, vp}] = overlays_.create("simp", vp, Access::kReadWrite);
    overlay_ids_[{hv::OverlayKind::kSiefp, vp}] = overlays_.create("siefp", vp, Access::kReadWrite);
  }
}

namespace {
bool partition_wide(hv::OverlayKind k) { return k == hv::OverlayKind::kHypercall || k == hv::OverlayKind::kReferenceTsc; }
}  // namespace

bool HvHost::place_overlay(hv::OverlayKind kind, hv::VpIndex vp, std::optional<uint64_t> gpa) {
  int key = partition_wide(kind) ? kNoVp : static_cast<int>(vp);
  return overlays_.place(overlay_ids_.at({kind, key}), gpa, now_);
}

uint8_t* HvHost::overlay_page(hv::OverlayKind kind, hv::VpIndex vp) {
  int key = partition_wide(kind) ? kNoVp : static_cast<int>(vp);
  return overlays_.page(overlay_ids_.at({kind, key}));
}

std::optional<MsrRead> HvHost::msr_read(VcpuContext& v, uint32_t msr) {
  now_ = v.now();
  std::optional<hv::MsrValue> r = partition_.msr_read(static_cast<hv::VpIndex>(v.vp()), msr, now_);
  if (!r) return std::nullopt;
  return MsrRead{r->gp, r->value};
}

std::optional<bool> HvHost::msr_write(VcpuContext& v, uint32_t msr, uint64_t value) {
  now_ = v.now();
  return partition_.msr_write(static_cast<hv::VpIndex>(v.vp()), msr, value, now_);
}

HypercallResult HvHost::hypercall(VcpuContext& v) {
  // TLFS: hypercalls need the Hyper-V interface and an enabled hypercall page, else #UD.
  if (!partition_.enabled() || !partition_.hypercall_page_enabled()) return HypercallResult::kUndefined;
  now_ = v.now();
  VcpuHypercallIo io(v, views_[static_cast<size_t>(v.vp())], dispatcher_.config().xmm_input);
  hv::HypercallOutcome o = dispatcher_.dispatch(static_cast<hv::VpIndex>(v.vp()), now_, io);
  if (o.ud) return HypercallResult::kUndefined;
  return o.retry ? HypercallResult::kRetry : HypercallResult::kDone;
}

uint16_t HvHost::post_message(hv::VpIndex vp, uint32_t connection_id, uint32_t message_type, const uint8_t* payload,
                              uint32_t size) {
  auto it = message_ports_.find(connection_id);
  if (it == message_ports_.end()) return hv::HV_STATUS_INVALID_CONNECTION_ID;
  return it->second(static_cast<int>(vp), message_type, payload, size);
}

uint16_t HvHost::signal_event(hv::VpIndex vp, uint32_t connection_id, uint16_t flag_number) {
  auto it = event_ports_.find(connection_id);
  if (it != event_ports_.end()) return it->second(static_cast<int>(vp), flag_number);
  if (event_fallback_) return event_fallback_(static_cast<int>(vp), connection_id, flag_number);
  return hv::HV_STATUS_INVALID_CONNECTION_ID;
}

std::optional<uint64_t> HvHost::get_vp_register(hv::VpIndex vp, uint32_t name) {
  return partition_.get_vp_register(vp, name, now_);
}

uint16_t HvHost::set_vp_register(hv::VpIndex vp, uint32_t name, uint64_t value) {
  return partition_.set_vp_register(vp, name, value, now_);
}

}  // namespace hvsim
