#include "sim/machine/machine.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "sim/core/status.h"
#include "sim/cpu/x86_defs.h"
#include "models/hv/enlightenments.h"
#include "models/hv/host_profile.h"

namespace hvsim {
namespace {

constexpr uint16_t kExitPort = 0xf4;

// Architectural MSRs the emulated CPU implements itself and hvsim lets through unchanged.
bool native_msr(uint32_t msr) {
  switch (msr) {
    case 0x174: case 0x175: case 0x176:                      // SYSENTER_CS/ESP/EIP
    case 0x179: case 0x17a: case 0x1a0:                      // MCG_CAP, MCG_STATUS, MISC_ENABLE
    case 0x277: case 0xfe: case 0x2ff:                       // PAT, MTRRcap, MTRRdefType
    case 0x250: case 0x258: case 0x259:                      // fixed-range MTRRs
    case x86::kMsrStar: case x86::kMsrLstar: case x86::kMsrCstar: case x86::kMsrFmask:
    case 0xc0000100: case 0xc0000101: case 0xc0000102:       // FS_BASE, GS_BASE, KERNEL_GS_BASE
    case x86::kMsrTscAux:
      return true;
    default:
      return (msr >= 0x200 && msr <= 0x20f) || (msr >= 0x268 && msr <= 0x26f);  // variable, fixed MTRRs
  }
}

constexpr uint64_t kEferWritable = x86::kEferSce | x86::kEferLme | x86::kEferLma | x86::kEferNxe;

}  // namespace

void validate(const MachineParams& p) {
  if (p.vcpus < 1 || p.vcpus > 64) throw UsageError("--vcpus: must be 1 to 64, got " + std::to_string(p.vcpus));
  if (p.memory < (4ull << 20) || p.memory > (3ull << 30) || p.memory % (2ull << 20) != 0)
    throw UsageError("--memory: must be 4 MiB to 3 GiB in steps of 2 MiB, got " + std::to_string(p.memory) + " bytes");
  if (p.quantum < 1 || p.quantum > 100000000) throw UsageError("--quantum: must be 1 to 100000000 instructions");
  if (p.tsc_hz < 1000000 || p.tsc_hz > 100000000000ull) throw UsageError("--tsc-hz: must be 1 MHz to 100 GHz");
  if (p.apic_hz < 1000000 || p.apic_hz > 10000000000ull) throw UsageError("--apic-hz: must be 1 MHz to 10 GHz");
  if (p.hv != "none") hv::validate(hv::parse_enlightenments(p.hv));
  hv::host_profile(p.host);
}

int Verdict::status() const {
  switch (kind) {
    case Kind::kExit: return exit_code == 0 ? 0 : 1;
    case Kind::kCrash: return 3;
    case Kind::kWatchdog: return 4;
    case Kind::kReset: return 0;
    case Kind::kNone: break;
  }
  return 4;
}

std::string Verdict::label() const {
  switch (kind) {
    case Kind::kExit: return "exit(" + std::to_string(exit_code) + ")";
    case Kind::kCrash: return "crash";
    case Kind::kWatchdog: return "watchdog";
    case Kind::kReset: return "reset";
    case Kind::kNone: break;
  }
  return "none";
}

Machine::Machine(const MachineParams& p)
    : params_(p),
      cpuid_(p.vcpus),
      uart_([this](VcpuContext& v, uint8_t b) { console_byte(v, b); }),
      tsc_hz_(p.tsc_hz),
      sched_rng_(p.seed, "sched.quantum") {
  validate(p);
  ElfImage image = load_elf(p.guest);
  mem_ = std::make_unique<GuestMemory>(p.memory);
  boot_ = build_boot_layout(*mem_, image, p.vcpus, p.tsc_hz, p.aps_parked);
  apic::ApicParams apic_params{p.apic_hz, p.tsc_hz};
  for (unsigned vp = 0; vp < p.vcpus; ++vp) {
    Slot s;
    s.cpu = std::make_unique<UnicornVcpu>(VcpuParams{static_cast<int>(vp), p.tsc_hz}, *mem_,
                                          static_cast<VcpuExitHandler&>(*this), tracer_, decoder_);
    s.cpu->set_long_mode_boot_state(boot_.vcpus[vp]);
    s.cpu->map_mmio(apic::kApicBaseAddress, 0x1000, static_cast<MmioHandler&>(*this));
    s.apic = std::make_unique<apic::LocalApic>(vp, vp == 0, apic_params, static_cast<apic::IpiTarget&>(*this), tracer_);
    if (p.aps_parked && vp != 0) s.state = VcpuState::kWaitForSipi;
    vcpus_.push_back(std::move(s));
  }
  add_port_device(Uart16550::kCom1, Uart16550::kPorts, &uart_);
  build_hypervisor();
  add_msr_handler(static_cast<MsrHandler*>(this));

  image_hash_ = kFnvOffset;
  for (const ElfSegment& s : image.segments) {
    image_hash_ = fnv1a(std::string_view(reinterpret_cast<const char*>(&s.paddr), sizeof s.paddr), image_hash_);
    image_hash_ = fnv1a(std::string_view(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size()), image_hash_);
  }
  image_entry_ = image.entry;
  symbols_ = std::move(image.symbols);
  for (const ElfSegment& s : image.segments) image_ranges_.emplace_back(s.vaddr, s.vaddr + s.memsz);
  std::vector<UnicornVcpu*> cpus;
  for (Slot& s : vcpus_) cpus.push_back(s.cpu.get());
  watches_ = std::make_unique<GuestWatches>(std::move(cpus), tracer_);
}

std::optional<uint64_t> Machine::symbol(const std::string& name) const {
  auto it = symbols_.find(name);
  if (it == symbols_.end()) return std::nullopt;
  return it->second;
}

bool Machine::in_image(uint64_t va) const {
  for (auto [first, end] : image_ranges_)
    if (va >= first && va < end) return true;
  return false;
}

Machine::~Machine() = default;

void Machine::add_port_device(uint16_t first, uint16_t count, PortDevice* dev) {
  ports_.push_back(PortRange{first, count, dev});
}

void Machine::set_verdict(Verdict v) {
  if (verdict_.kind != Verdict::Kind::kNone) return;  // the first verdict stands
  verdict_ = std::move(v);
}

// ---- exits -----------------------------------------------------------------------------------

uint64_t Machine::guest_tsc(int vp, VirtualTime now) const {
  uint64_t ticks = tsc_base_ticks_ + (now > tsc_base_time_ ? ClockRate(tsc_hz_).ticks_at(now - tsc_base_time_) : 0);
  return ticks + vcpus_[static_cast<size_t>(vp)].tsc_offset;
}

uint64_t Machine::observed_tsc(int vp, VirtualTime now) {
  uint64_t offset = vcpus_[static_cast<size_t>(vp)].tsc_offset;
  uint64_t raw = guest_tsc(vp, now) - offset;
  tsc_high_water_ = std::max(tsc_high_water_, raw);
  return tsc_high_water_ + offset;
}

MsrRead Machine::on_rdmsr(VcpuContext& v, uint32_t msr) {
  models_touched_ = true;
  MsrRead r{true, 0};
  bool claimed = false;
  for (MsrHandler* h : msr_handlers_) {
    if (auto got = h->msr_read(v, msr)) { r = *got; claimed = true; break; }
  }
  if (!claimed) {
    if (msr == x86::kMsrTsc) r = MsrRead{false, observed_tsc(v.vp(), v.now())};
    else if (msr == x86::kMsrEfer || native_msr(msr)) r = MsrRead{false, v.native_msr_read(msr)};
  }
  if (r.gp) {
    tracer_.emit(TracePoint::kMsrFault, v.now(), v.vp(), {TraceField::hex("msr", msr), TraceField::str_("op", "read")});
  } else {
    tracer_.emit(TracePoint::kMsrRead, v.now(), v.vp(), {TraceField::hex("msr", msr), TraceField::hex("value", r.value)});
  }
  return r;
}

bool Machine::on_wrmsr(VcpuContext& v, uint32_t msr, uint64_t value) {
  // An EOI changes only the local APIC's in-service state, never a model's next step.
  if (msr != apic::kMsrX2ApicFirst + (apic::kRegEoi >> 4) && msr != apic::HV_X64_MSR_EOI) models_touched_ = true;
  std::optional<bool> ok;
  for (MsrHandler* h : msr_handlers_) {
    if ((ok = h->msr_write(v, msr, value))) break;
  }
  if (!ok) {
    if (msr == x86::kMsrTsc) {
      Slot& slot = vcpus_[static_cast<size_t>(v.vp())];
      slot.tsc_offset = value - (guest_tsc(v.vp(), v.now()) - slot.tsc_offset);
      sync_apic_tsc(v.vp(), v.now());
      ok = true;
    } else if (msr == x86::kMsrEfer) {
      ok = (value & ~kEferWritable) == 0;
      if (*ok) v.native_msr_write(msr, value);
    } else if (native_msr(msr)) {
      v.native_msr_write(msr, value);
      ok = true;
    } else {
      ok = false;
    }
  }
  tracer_.emit(*ok ? TracePoint::kMsrWrite : TracePoint::kMsrFault, v.now(), v.vp(),
               {TraceField::hex("msr", msr), TraceField::hex("value", value), TraceField::str_("op", "write")});
  return *ok;
}

CpuidResult Machine::on_cpuid(VcpuContext& v, uint32_t leaf, uint32_t subleaf) {
  CpuidResult r = cpuid_.lookup(v.vp(), leaf, subleaf);
  tracer_.emit(TracePoint::kCpuid, v.now(), v.vp(),
               {TraceField::hex("leaf", leaf), TraceField::hex("subleaf", subleaf), TraceField::hex("eax", r.eax),
                TraceField::hex("ebx", r.ebx), TraceField::hex("ecx", r.ecx), TraceField::hex("edx", r.edx)});
  return r;
}

uint32_t Machine::on_io_in(VcpuContext& v, uint16_t port, unsigned size) {
  models_touched_ = true;
  for (const PortRange& r : ports_) {
    if (port >= r.first && port - r.first < r.count) {
      uint32_t value = r.dev->io_in(v, static_cast<uint16_t>(port - r.first), size);
      if (port != Uart16550::kCom1 + 5)  // LSR polling would flood the trace
        tracer_.emit(TracePoint::kIoIn, v.now(), v.vp(),
                     {TraceField::hex("port", port), TraceField::u64("size", size), TraceField::hex("value", value)});
      return value;
    }
  }
  tracer_.emit(TracePoint::kIoUnhandled, v.now(), v.vp(),
               {TraceField::hex("port", port), TraceField::u64("size", size), TraceField::str_("op", "in")});
  return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

void Machine::on_io_out(VcpuContext& v, uint16_t port, unsigned size, uint32_t value) {
  models_touched_ = true;
  if (port == kExitPort) {
    tracer_.emit(TracePoint::kIoOut, v.now(), v.vp(),
                 {TraceField::hex("port", port), TraceField::u64("size", size), TraceField::hex("value", value)});
    Verdict verdict;
    verdict.kind = Verdict::Kind::kExit;
    verdict.exit_code = value;
    verdict.vp = v.vp();
    verdict.message = "guest exited with code " + std::to_string(value);
    set_verdict(std::move(verdict));
    v.request_stop();
    return;
  }
  for (const PortRange& r : ports_) {
    if (port >= r.first && port - r.first < r.count) {
      if (r.dev != &uart_)  // console bytes are traced as whole lines
        tracer_.emit(TracePoint::kIoOut, v.now(), v.vp(),
                     {TraceField::hex("port", port), TraceField::u64("size", size), TraceField::hex("value", value)});
      r.dev->io_out(v, static_cast<uint16_t>(port - r.first), size, value);
      return;
    }
  }
  tracer_.emit(TracePoint::kIoUnhandled, v.now(), v.vp(),
               {TraceField::hex("port", port), TraceField::u64("size", size), TraceField::str_("op", "out"),
                TraceField::hex("value", value)});
}

uint64_t Machine::on_rdtsc(VcpuContext& v) {
  models_touched_ = true;  // the TSC high-water mark moves the local APICs' TSC view
  uint64_t tsc = observed_tsc(v.vp(), v.now());
  tracer_.emit(TracePoint::kRdtsc, v.now(), v.vp(), {TraceField::u64("tsc", tsc)});
  return tsc;
}

HypercallResult Machine::on_hypercall(VcpuContext& v) {
  models_touched_ = true;
  HypercallResult r = hypercall_ ? hypercall_(v) : hv_->hypercall(v);
  tracer_.emit(TracePoint::kHypercall, v.now(), v.vp(),
               {TraceField::hex("control", v.reg(Reg::kRcx)), TraceField::u64("result", static_cast<uint64_t>(r))});
  return r;
}

// ---- console -----------------------------------------------------------------------------------

void Machine::console_byte(VcpuContext& v, uint8_t byte) {
  console_ += static_cast<char>(byte);
  if (params_.echo_console) {
    std::fputc(byte, stdout);
    if (byte == '\n') std::fflush(stdout);
  }
  if (byte == '\n') {
    flush_console_line(v.now(), v.vp());
  } else if (byte != '\r') {
    console_line_ += static_cast<char>(byte);
  }
}

void Machine::flush_console_line(VirtualTime t, int vp) {
  tracer_.emit(TracePoint::kConsoleLine, t, vp, {TraceField::str_("text", console_line_)});
  console_line_.clear();
}

}  // namespace hvsim
