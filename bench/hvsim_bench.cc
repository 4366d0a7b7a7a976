// hvsim benchmarks, reported as ratios against a baseline run side by side in the same process
// (never asserted in tests). Wall-clock time is measured here only, outside the simulation.
//
//  P1  compute-bound guest loops (bench_alu: register ALU; bench_mem: load/store over 64 KiB)
//      under hvsim with everything on, against the same ELF on bare Unicorn with no hooks at all.
//      Reports hvsim speed / bare speed (goal >= 0.5).
//  P2  cost of one trapped exit: bench_exit does 1M RDMSR(IA32_TSC) and 1M OUT to an unclaimed
//      port; (its hvsim time - the same loops' bare time) / 2M = ns per exit (goal <= 100 ns).
//  H1  hypervisor exits, 1M each: RDMSR of a synthetic MSR (bench_hv_msr), memory-form
//      HvCallPostMessage (bench_hv_post) and fast HvCallSignalEvent (bench_hv_signal) through the
//      hypercall page: ns per operation, the whole guest loop included.
//  H2  a timer-driven idle guest (bench_idle: 1 kHz synthetic timer, HLT between ticks, 10 virtual
//      seconds): virtual seconds per wall second (goal >= 1000), after subtracting the same guest
//      without ticks (bench_idle_setup: machine construction, boot, timer programming), as V1
//      does; the raw figure is printed too.
//  V1  VMBus ring echo (bench_vmbus_echo: 200000 64-byte in-band packets, pipelined, through the
//      `test` device, every echo checked): packets per wall second with 1 channel on 1 VP, against
//      the goal (>= 1 M/s).
//  V2  the same fixed packet total spread over more channels (16, 256 at 1 VP) and more VPs (8, 64,
//      one channel per VP, each VP driving its own channels): wall ns per packet as a ratio to the
//      1-channel/1-VP run of V1 (flat per-packet cost = ratio near 1). Packets are counted by the
//      device models (sum of packets_echoed); a run whose guest did not exit 0 is marked FAIL.
//      V1 and V2 subtract the time of the same configuration without traffic (bench_vmbus_setup).
//      V2 also prints the steady-state cost: (time of 200000 packets - time of 20000, from
//      bench_vmbus_warm) / 180000, which leaves out each vCPU's one-time translation of the echo loop.
//
// usage: hvsim_bench GUEST_DIR [repetitions [SECTIONS]]
#include <unicorn/unicorn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "models/devices/test/device.h"
#include "sim/machine/boot_layout.h"
#include "sim/machine/machine.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The guest on bare Unicorn: same RAM image and boot page tables, and one hook only: IN answers
// 0x60 so the console's "transmitter empty" poll ends (reached only when the guest prints, never
// in the measured loops). OUT and CPUID run natively (ignored); the guest halts after its exit.
double run_bare(const std::string& elf) {
  hvsim::ElfImage img = hvsim::load_elf(elf);
  hvsim::GuestMemory mem(64ull << 20);
  hvsim::BootLayout b = hvsim::build_boot_layout(mem, img, 1, 2000000000, false);
  uc_engine* uc = nullptr;
  uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
  uc_mem_map_ptr(uc, 0, mem.size(), UC_PROT_ALL, mem.base());
  uc_hook h;
  auto lsr = +[](uc_engine*, uint32_t, int, void*) -> uint32_t { return 0x60; };
  uc_hook_add(uc, &h, UC_HOOK_INSN, reinterpret_cast<void*>(lsr), nullptr, 1, 0, UC_X86_INS_IN);
  const hvsim::LongModeBootState& s = b.vcpus[0];
  uc_x86_mmr gdtr{0, s.gdt_base, s.gdt_limit, 0};
  uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
  uint64_t v = s.cr3;
  uc_reg_write(uc, UC_X86_REG_CR3, &v);
  v = 0x6a0;
  uc_reg_write(uc, UC_X86_REG_CR4, &v);
  uc_x86_msr efer{0xc0000080, 0xd01};
  uc_reg_write(uc, UC_X86_REG_MSR, &efer);
  v = 0x80010033;
  uc_reg_write(uc, UC_X86_REG_CR0, &v);
  uc_reg_write(uc, UC_X86_REG_RSP, &s.rsp);
  uc_reg_write(uc, UC_X86_REG_RDI, &s.rdi);
  uc_reg_write(uc, UC_X86_REG_RSI, &s.rsi);
  auto t0 = Clock::now();
  uc_emu_start(uc, s.rip, 0xdead000000000000ull, 0, 0);
  double t = seconds_since(t0);
  uc_close(uc);
  return t;
}

struct HvsimRun { double seconds; uint64_t insns; };

HvsimRun run_hvsim(const std::string& elf, unsigned vcpus = 1) {
  hvsim::MachineParams p;
  p.guest = elf;
  p.vcpus = vcpus;
  p.echo_console = false;
  p.max_time = hvsim::VirtualTime::max();
  hvsim::Machine m(p);
  auto t0 = Clock::now();
  hvsim::Verdict v = m.run();
  double t = seconds_since(t0);
  if (v.status() != 0) std::fprintf(stderr, "bench: %s ended with %s\n", elf.c_str(), v.label().c_str());
  return HvsimRun{t, m.retired(0)};
}

template <typename F> double best_of(int reps, F f) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) best = std::min(best, f());
  return best;
}

// One run of a VMBus echo guest with `channels` test devices (t0, t1, ...) on `vcpus` VPs, with the
// scheduling quantum `quantum` (0: the default).
struct EchoRun {
  double seconds = 0;
  uint64_t packets = 0;              // sum of packets_echoed over the test devices
  unsigned active = 0;               // devices that echoed anything (the guest may hold fewer channels)
  uint64_t unnecessary_signals = 0;  // guest->host signals the host found unnecessary
  bool ok = false;                   // the guest exited 0 (every echo arrived intact)
  std::string verdict;
};

EchoRun run_echo(const std::string& elf, unsigned channels, unsigned vcpus, uint64_t quantum) {
  hvsim::MachineParams p;
  p.guest = elf;
  p.vcpus = vcpus;
  if (quantum) p.quantum = quantum;
  p.memory = 256ull << 20;  // 256 channels x 2 x 4 ring pages fit with room to spare
  p.echo_console = false;
  p.vmbus_devices.clear();
  for (unsigned i = 0; i < channels; ++i) p.vmbus_devices += (i ? ",test:t" : "test:t") + std::to_string(i);
  hvsim::Machine m(p);
  EchoRun r;
  auto t0 = Clock::now();
  hvsim::Verdict v = m.run();
  r.seconds = seconds_since(t0);
  r.ok = v.kind == hvsim::Verdict::Kind::kExit && v.exit_code == 0;
  r.verdict = v.label();
  if (hvsim::vmbus::VmbusHost* host = m.vmbus()) {
    r.unnecessary_signals = host->unnecessary_signals();
    for (unsigned i = 0; i < channels; ++i) {
      auto* d = dynamic_cast<hvsim::devices::TestDevice*>(host->device("t" + std::to_string(i)));
      uint64_t n = d ? d->packets_echoed() : 0;
      r.packets += n;
      r.active += n > 0;
    }
  }
  return r;
}

// One configuration, best of `reps`: the echo load (bench_vmbus_echo), the same run without
// traffic (bench_vmbus_setup: boot, connect, opens, close, unload), whose time is subtracted, and
// a tenth of the traffic (bench_vmbus_warm), which gives the steady-state cost of one more packet
// once every vCPU's engine has translated the echo loop (a fixed cost per vCPU).
struct EchoResult {
  EchoRun load;
  EchoRun warm;
  double setup = 0;
  bool ok = false;
  double ns_per_packet() const {
    return load.packets ? (load.seconds - setup) / static_cast<double>(load.packets) * 1e9 : 0;
  }
  double steady_ns_per_packet() const {
    return load.packets > warm.packets
               ? (load.seconds - warm.seconds) / static_cast<double>(load.packets - warm.packets) * 1e9
               : 0;
  }
};

EchoResult measure_echo(const std::string& dir, unsigned channels, unsigned vcpus, uint64_t quantum, int reps) {
  EchoResult r;
  r.ok = true;
  for (int i = 0; i < reps && r.ok; ++i) {
    EchoRun load = run_echo(dir + "/bench_vmbus_echo.elf", channels, vcpus, quantum);
    EchoRun setup = run_echo(dir + "/bench_vmbus_setup.elf", channels, vcpus, quantum);
    EchoRun warm = run_echo(dir + "/bench_vmbus_warm.elf", channels, vcpus, quantum);
    r.ok = load.ok && setup.ok && warm.ok;
    if (i == 0 || !r.ok || load.seconds < r.load.seconds) r.load = load;
    if (i == 0 || !setup.ok || setup.seconds < r.setup) r.setup = setup.seconds;
    if (i == 0 || !warm.ok || warm.seconds < r.warm.seconds) r.warm = warm;
    if (!setup.ok) r.load.verdict = "setup run " + setup.verdict;
    if (!warm.ok) r.load.verdict = "warm run " + warm.verdict;
  }
  return r;
}

// One V2 line; FAIL if a guest did not exit 0 or the devices echoed another total than in the baseline.
void print_echo(unsigned channels, unsigned vcpus, uint64_t quantum, const EchoResult& r, const EchoResult& base) {
  bool ok = r.ok && r.load.packets == base.load.packets;
  double ratio = base.ns_per_packet() > 0 ? r.ns_per_packet() / base.ns_per_packet() : 0.0;
  double steady = base.steady_ns_per_packet() > 0 ? r.steady_ns_per_packet() / base.steady_ns_per_packet() : 0.0;
  std::printf("V2: %3u channels (%3u active) %2u VPs", channels, r.load.active, vcpus);
  if (quantum) std::printf(", quantum %llu", static_cast<unsigned long long>(quantum));
  std::printf(": %6llu packets, %.3f s - setup %.3f s: %6.1f ns/packet, ratio %.2f; steady %6.1f ns/packet, ratio %.2f",
              static_cast<unsigned long long>(r.load.packets), r.load.seconds, r.setup, r.ns_per_packet(), ratio,
              r.steady_ns_per_packet(), steady);
  if (r.load.unnecessary_signals)
    std::printf(", %llu unnecessary signals", static_cast<unsigned long long>(r.load.unnecessary_signals));
  if (!ok) std::printf("  FAIL (%s)", r.load.verdict.c_str());
  std::printf("\n");
}

void vmbus_echo_sections(const std::string& dir, int reps) {
  constexpr double kGoal = 1e6;
  EchoResult base = measure_echo(dir, 1, 1, 0, reps);
  double net = base.load.seconds - base.setup;
  double rate = net > 0 ? static_cast<double>(base.load.packets) / net : 0;
  std::printf("V1: ring echo, 1 channel, 1 VP: %llu packets in %.3f s - setup %.3f s: %.0f packets per wall s "
              "(%.2f of the 1 M goal)",
              static_cast<unsigned long long>(base.load.packets), base.load.seconds, base.setup, rate, rate / kGoal);
  if (!base.ok) std::printf("  FAIL (%s)", base.load.verdict.c_str());
  std::printf("\n");
  print_echo(1, 1, 0, base, base);
  // The last two rows rerun 8 and 64 VPs with a 100 times longer quantum: each vCPU then runs until
  // it halts for echoes, and its engine takes turns about 10 times less often (see README.md).
  struct Config { unsigned channels, vcpus; uint64_t quantum; };
  for (Config c : {Config{16, 1, 0}, Config{256, 1, 0}, Config{8, 8, 0}, Config{64, 64, 0}, Config{8, 8, 1000000},
                   Config{64, 64, 1000000}})
    print_echo(c.channels, c.vcpus, c.quantum, measure_echo(dir, c.channels, c.vcpus, c.quantum, reps), base);
}

}  // namespace

// True if `name` (P1, P2, H1, H2 or V) is in the comma-separated `sections`, or `sections` is empty.
bool wanted(const std::string& sections, const char* name) {
  if (sections.empty()) return true;
  return ("," + sections + ",").find("," + std::string(name) + ",") != std::string::npos;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hvsim_bench GUEST_DIR [repetitions [SECTIONS]]   (SECTIONS e.g. H2,V; default all)\n");
    return 2;
  }
  std::string dir = argv[1];
  int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  std::string sections = argc > 3 ? argv[3] : "";
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (wanted(sections, "P1")) {
    std::printf("%-10s %12s %12s %10s %8s\n", "guest", "bare s", "hvsim s", "hvsim MIPS", "ratio");
    for (const char* name : {"bench_alu", "bench_mem"}) {
      std::string elf = dir + "/" + name + ".elf";
      uint64_t insns = 0;
      double bare = best_of(reps, [&] { return run_bare(elf); });
      double sim = best_of(reps, [&] { HvsimRun r = run_hvsim(elf); insns = r.insns; return r.seconds; });
      std::printf("%-10s %12.3f %12.3f %10.0f %8.2f   (P1: hvsim speed / bare Unicorn speed)\n", name, bare, sim,
                  static_cast<double>(insns) / sim / 1e6, bare / sim);
    }
  }
  if (wanted(sections, "P2")) {
    std::string elf = dir + "/bench_exit.elf";
    double bare = best_of(reps, [&] { return run_bare(elf); });
    double sim = best_of(reps, [&] { return run_hvsim(elf).seconds; });
    std::printf("P2: bench_exit bare %.3f s, hvsim %.3f s: %.1f ns per trapped exit (RDMSR IA32_TSC / OUT)\n", bare, sim,
                (sim - bare) / 2e6 * 1e9);
  }
  if (wanted(sections, "H1")) {
    for (const char* name : {"bench_hv_msr", "bench_hv_post", "bench_hv_signal"}) {
      double t = best_of(reps, [&] { return run_hvsim(dir + "/" + name + ".elf").seconds; });
      std::printf("H1: %-16s %.1f ns per operation\n", name, t / 1e6 * 1e9);
    }
  }
  if (wanted(sections, "H2")) {
    double idle = best_of(reps, [&] { return run_hvsim(dir + "/bench_idle.elf").seconds; });
    double idle_setup = best_of(reps, [&] { return run_hvsim(dir + "/bench_idle_setup.elf").seconds; });
    std::printf("H2: bench_idle 10 virtual s in %.4f wall s - setup %.4f s: %.0f virtual s per wall s (%.0f with setup)\n",
                idle, idle_setup, 10.0 / (idle - idle_setup), 10.0 / idle);
  }
  if (wanted(sections, "V")) vmbus_echo_sections(dir, reps);
  return 0;
}
