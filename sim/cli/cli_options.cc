#include "sim/cli/cli_options.h"

#include <cerrno>
#include <cstdlib>

#include "sim/core/status.h"

namespace hvsim {

const char kMainHelp[] =
    "hvsim: a deterministic, cycle-counted simulator of a Hyper-V host for testing guest drivers\n"
    "\n"
    "usage: hvsim run --guest FILE [options]   run a guest ELF (see `hvsim run --help`)\n"
    "       hvsim scenario FILE [options]      run a JSON scenario (see `hvsim scenario --help`)\n"
    "       hvsim sweep FILE --seeds A..B ...  run a scenario's variants (see `hvsim sweep --help`)\n"
    "       hvsim --help | --version\n"
    "\n"
    "Exit status: 0 guest exited 0; 1 guest exited non-zero; 2 usage or input error;\n"
    "             3 guest crash; 4 watchdog (time limit, or every vCPU halted for good).\n";

const char kRunHelp[] =
    "usage: hvsim run --guest FILE [options]\n"
    "\n"
    "Runs an ELF64 x86-64 guest (docs/guest-contract.md) on virtual time and prints one summary\n"
    "line on standard error: verdict, virtual time, instructions per vCPU, seed and trace hash.\n"
    "\n"
    "  --guest FILE          guest ELF executable (required)\n"
    "  --vcpus N             number of vCPUs, 1-64 (default 1)\n"
    "  --memory SIZE         guest RAM, e.g. 64M, 1G (default 64M)\n"
    "  --seed N              seed for every random choice, e.g. scheduling quanta (default 1)\n"
    "  --quantum N           instructions per scheduling round, upper bound (default 10000)\n"
    "  --tsc-hz HZ           guest TSC frequency; one instruction = one cycle (default 2000000000)\n"
    "  --max-time DURATION   virtual-time watchdog, e.g. 50ms, 2s; 0 = none (default 10s)\n"
    "  --hv LIST             Hyper-V enlightenments, QEMU spelling, e.g. hv-synic,hv-stimer,...\n"
    "                        (default hv-passthrough: everything hvsim implements; none: no Hyper-V)\n"
    "  --host PROFILE        host profile ws2012, ws2012r2, ws2016, ws2019, ws2022, ws2025 (default ws2019)\n"
    "  --apic-hz HZ          local APIC timer clock (default 200000000)\n"
    "  --vmbus-devices LIST  VMBus devices the host offers: TYPE or TYPE:NAME entries, types\n"
    "                        heartbeat, shutdown, timesync, kvp, test (default heartbeat,shutdown,\n"
    "                        timesync; none: no VMBus host; the VMBus host needs hv-synic)\n"
    "  --device-param N.K=V  a parameter of the device named N, e.g. heartbeat.period=100ms\n"
    "                        (repeatable; models/devices/<type>/README.md lists them)\n"
    "  --shutdown-at TIME    the host asks the guest to shut down at TIME (= shutdown.at=TIME)\n"
    "  --retarget-lag TIME   after MODIFYCHANNEL, channel interrupts still go to the old VP for\n"
    "                        TIME (default 0)\n"
    "  --monitor-latency T   how often the host scans the guest's monitor page for signals\n"
    "                        (default 100us; 0: offers carry no monitor id)\n"
    "  --throttle N/WIN/SUS  interrupt throttling: more than N unnecessary guest signals on a\n"
    "                        channel within WIN suspend the VP for SUS (default 256/10ms/2s; 0: off)\n"
    "  --ap-start MODE       all: every vCPU starts at the entry point (default);\n"
    "                        parked: vCPUs 1..N-1 wait for INIT and STARTUP IPIs\n"
    "  --trace FILE          write the trace as JSON Lines\n"
    "  --trace-filter GLOBS  only these trace points in FILE, e.g. 'msr.*,exc.*' (default all but\n"
    "                        cpu.block, the costly per-block execution trace, which must be named)\n"
    "  --no-console          do not copy the guest console to standard output\n";

const char kScenarioHelp[] =
    "usage: hvsim scenario FILE [options]\n"
    "\n"
    "Runs the scenario FILE (scenarios/README.md): builds the machine it describes, performs its\n"
    "timeline of host actions at their virtual times, then checks its expectations. Prints each\n"
    "failed expectation and the summary line (verdict, virtual time, instructions, seed, trace hash,\n"
    "expectations held).\n"
    "\n"
    "These `hvsim run` options override the scenario's values (see `hvsim run --help`):\n"
    "  --guest --vcpus --memory --seed --quantum --tsc-hz --max-time --hv --host --apic-hz\n"
    "  --ap-start --retarget-lag --monitor-latency --throttle --trace --trace-filter --no-console\n"
    "Devices come from the scenario only (--vmbus-devices, --device-param, --shutdown-at are refused).\n"
    "  --set POINTER=VALUE   set one number or string of the file before it is checked, by JSON\n"
    "                        pointer, e.g. --set /vmbus/retarget_lag=500us (repeatable, in order)\n"
    "\n"
    "Exit status: 0 every expectation held; 1 an expectation failed (or a timeline action did not run\n"
    "or apply), or the guest exited non-zero and no expectation is about the exit; 2 bad scenario\n"
    "or options; 3 guest crash, 4 watchdog, when no expectation is about that ending.\n";

const char kSweepHelp[] =
    "usage: hvsim sweep FILE [--seeds A..B] [--vary POINTER=LO..HI[/STEP]]... [scenario options]\n"
    "\n"
    "Runs every variant of the scenario FILE, one after the other in one process, in a fixed order:\n"
    "each seed of A..B (inclusive; default: the scenario's seed), and for each seed every combination\n"
    "of the --vary values (the first --vary outermost). --vary sets the field at the JSON pointer\n"
    "(as --set does) to LO, LO+STEP, ... up to HI; STEP defaults to 1. Plain integers set numbers;\n"
    "with a unit (ns, us, ms, s on all three) they set durations, written in the smallest unit used:\n"
    "  --vary /vmbus/retarget_lag=0us..20ms/500us   sets \"0us\", \"500us\", ..., \"20000us\"\n"
    "Prints one line per variant (seed, varied values, status, verdict, trace hash, failed checks),\n"
    "the counts, and for every failure the `hvsim scenario` command that reproduces it alone.\n"
    "The `hvsim scenario` options apply to every variant, except --seed (use --seeds), --trace and\n"
    "--trace-filter (trace a failure with its reproduction command); the guest console is off.\n"
    "\n"
    "Exit status: 0 every variant passed; 1 a variant failed; 2 bad options or a bad variant.\n";

namespace {

// Options `hvsim scenario` takes (scenario devices and their actions replace the device options).
constexpr const char* kScenarioOptions[] = {"--guest",   "--vcpus",        "--memory",       "--seed",
                                            "--quantum", "--tsc-hz",       "--max-time",     "--hv",
                                            "--host",    "--apic-hz",      "--ap-start",     "--retarget-lag",
                                            "--monitor-latency", "--throttle", "--trace",    "--trace-filter",
                                            "--no-console"};

uint64_t parse_u64(const std::string& option, const std::string& text, const char* what) {
  if (text.empty() || text[0] == '-') throw UsageError(option + ": expected " + what + ", got '" + text + "'");
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || *end != '\0') throw UsageError(option + ": expected " + what + ", got '" + text + "'");
  return v;
}

// "N/WINDOW/SUSPEND" or "0" (throttling off).
vmbus::ThrottlePolicy parse_throttle(const std::string& option, const std::string& text) {
  vmbus::ThrottlePolicy p;
  if (text == "0") {
    p.threshold = 0;
    return p;
  }
  size_t a = text.find('/'), b = a == std::string::npos ? a : text.find('/', a + 1);
  if (b == std::string::npos)
    throw UsageError(option + ": expected N/WINDOW/SUSPEND (e.g. 256/10ms/2s) or 0, got '" + text + "'");
  uint64_t n = parse_u64(option, text.substr(0, a), "N/WINDOW/SUSPEND with N a signal count");
  if (n == 0 || n > UINT32_MAX) throw UsageError(option + ": N must be 1 to 4294967295, got '" + text.substr(0, a) + "'");
  p.threshold = static_cast<uint32_t>(n);
  p.window = parse_span(option, text.substr(a + 1, b - a - 1));
  p.suspend = parse_span(option, text.substr(b + 1));
  if (p.window.ps() == 0 || p.suspend.ps() == 0) throw UsageError(option + ": WINDOW and SUSPEND must be non-zero, got '" + text + "'");
  return p;
}

}  // namespace

uint64_t parse_size(const std::string& option, const std::string& text) {
  std::string digits = text;
  uint64_t unit = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K': case 'k': unit = 1ull << 10; digits.pop_back(); break;
      case 'M': case 'm': unit = 1ull << 20; digits.pop_back(); break;
      case 'G': case 'g': unit = 1ull << 30; digits.pop_back(); break;
      default: break;
    }
  }
  uint64_t v = parse_u64(option, digits, "a size such as 64M or 1G");
  if (v > UINT64_MAX / unit) throw UsageError(option + ": size too large");
  return v * unit;
}

VirtualTime parse_duration(const std::string& option, const std::string& text) {
  if (text == "0") return VirtualTime::max();
  struct Unit { const char* suffix; uint64_t ps; };
  static const Unit kUnits[] = {{"ns", 1000ull}, {"us", 1000000ull}, {"ms", 1000000000ull}, {"s", 1000000000000ull}};
  for (const Unit& u : kUnits) {
    std::string suffix = u.suffix;
    if (text.size() > suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string num = text.substr(0, text.size() - suffix.size());
      bool digits_only = num.find_first_not_of("0123456789") == std::string::npos;
      if (!digits_only) break;
      uint64_t v = parse_u64(option, num, "a duration such as 50ms");
      if (v > UINT64_MAX / u.ps) throw UsageError(option + ": duration too large");
      return VirtualTime::from_ps(v * u.ps);
    }
  }
  throw UsageError(option + ": expected a duration such as 50ms, 2s, 100us or 0 (none), got '" + text + "'");
}

VirtualTime parse_span(const std::string& option, const std::string& text) {
  return text == "0" ? VirtualTime{} : parse_duration(option, text);
}

void apply_run_option(RunOptions& o, const std::string& opt, const std::string& value) {
  if (opt == "--no-console") o.machine.echo_console = false;
  else if (opt == "--guest") o.machine.guest = value;
  else if (opt == "--vcpus") {
    uint64_t v = parse_u64(opt, value, "a vCPU count");
    if (v < 1 || v > 64) throw UsageError("--vcpus: must be 1 to 64, got " + value);
    o.machine.vcpus = static_cast<unsigned>(v);
  }
  else if (opt == "--memory") o.machine.memory = parse_size(opt, value);
  else if (opt == "--seed") o.machine.seed = parse_u64(opt, value, "a number");
  else if (opt == "--quantum") o.machine.quantum = parse_u64(opt, value, "an instruction count");
  else if (opt == "--tsc-hz") o.machine.tsc_hz = parse_u64(opt, value, "a frequency in Hz");
  else if (opt == "--max-time") o.machine.max_time = parse_duration(opt, value);
  else if (opt == "--ap-start") {
    if (value != "all" && value != "parked") throw UsageError("--ap-start: expected 'all' or 'parked', got '" + value + "'");
    o.machine.aps_parked = value == "parked";
  }
  else if (opt == "--hv") o.machine.hv = value;
  else if (opt == "--host") o.machine.host = value;
  else if (opt == "--apic-hz") o.machine.apic_hz = parse_u64(opt, value, "a frequency in Hz");
  else if (opt == "--vmbus-devices") o.machine.vmbus_devices = value;
  else if (opt == "--device-param") {
    size_t eq = value.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--device-param: expected DEVICE.KEY=VALUE, got '" + value + "'");
    o.machine.device_params.emplace_back(value.substr(0, eq), value.substr(eq + 1));
  }
  else if (opt == "--shutdown-at") {
    parse_duration(opt, value);  // checked here so the error names this option
    o.machine.device_params.emplace_back("shutdown.at", value);
  }
  else if (opt == "--retarget-lag") o.machine.retarget_lag = parse_span(opt, value);
  else if (opt == "--throttle") o.machine.throttle = parse_throttle(opt, value);
  else if (opt == "--monitor-latency") o.machine.monitor_latency = parse_span(opt, value);
  else if (opt == "--trace") o.trace_path = value;
  else if (opt == "--trace-filter") o.trace_filter = value;
  else throw UsageError("unknown option '" + opt + "'; try `hvsim run --help`");
}

namespace {

// Splits "--opt=value" / "--opt value" at args[i] (advancing i past a separate value). `has_value`
// says whether the option takes one.
std::pair<std::string, std::string> take_option(const std::vector<std::string>& args, size_t& i,
                                                bool (*has_value)(const std::string&)) {
  std::string opt = args[i], value;
  bool inline_value = false;
  if (auto eq = opt.find('='); opt.rfind("--", 0) == 0 && eq != std::string::npos) {
    value = opt.substr(eq + 1);
    opt = opt.substr(0, eq);
    inline_value = true;
  }
  if (has_value(opt) && !inline_value) {
    if (i + 1 >= args.size()) throw UsageError(opt + ": missing value");
    value = args[++i];
  }
  return {opt, value};
}

bool run_option_has_value(const std::string& opt) {
  static const char* const kWithValue[] = {"--guest", "--vcpus", "--memory", "--seed", "--quantum", "--tsc-hz",
                                           "--max-time", "--ap-start", "--trace", "--trace-filter", "--hv",
                                           "--host", "--apic-hz", "--vmbus-devices", "--device-param",
                                           "--shutdown-at", "--retarget-lag", "--throttle", "--monitor-latency"};
  for (const char* k : kWithValue)
    if (opt == k) return true;
  return false;
}

// Reads `hvsim scenario` arguments (args[0] is the command) into `cmd`; `extra(opt, args, i)`
// takes command-specific options first (true: taken). Returns false on --help.
template <typename Extra>
bool parse_scenario_arguments(const std::vector<std::string>& args, const char* command, ScenarioCommand& cmd, Extra extra) {
  RunOptions check;  // each option is applied here once, so a bad value fails before anything runs
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") return false;
    if (args[i].rfind("-", 0) != 0) {
      if (!cmd.file.empty()) throw UsageError(std::string(command) + ": one FILE only, got '" + cmd.file + "' and '" + args[i] + "'");
      cmd.file = args[i];
      continue;
    }
    if (extra(args, i)) continue;
    auto [opt, value] = take_option(args, i, [](const std::string& o) { return o == "--set" || run_option_has_value(o); });
    if (opt == "--set") {
      cmd.sets.push_back(value);
      continue;
    }
    bool allowed = false;
    for (const char* k : kScenarioOptions) allowed = allowed || opt == k;
    if (!allowed) {
      if (run_option_has_value(opt))
        throw UsageError(opt + ": not with a scenario (its devices and host actions come from the file); try `hvsim " +
                         command + " --help`");
      throw UsageError("unknown option '" + opt + "'; try `hvsim " + command + " --help`");
    }
    apply_run_option(check, opt, value);
    cmd.options.emplace_back(opt, value);
  }
  if (cmd.file.empty()) throw UsageError(std::string(command) + ": FILE is required; try `hvsim " + command + " --help`");
  return true;
}

void parse_scenario_command(const std::vector<std::string>& args, CommandLine& cl) {
  cl.command = parse_scenario_arguments(args, "scenario", cl.scenario, [](const std::vector<std::string>&, size_t&) { return false; })
                   ? Command::kScenario
                   : Command::kScenarioHelp;
}

void parse_sweep_command(const std::vector<std::string>& args, CommandLine& cl) {
  SweepCommand& sw = cl.sweep;
  auto extra = [&](const std::vector<std::string>& a, size_t& i) {
    size_t at = i;
    auto [opt, value] = take_option(a, at, [](const std::string& o) { return o == "--seeds" || o == "--vary"; });
    if (opt == "--seeds") sw.seeds = value;
    else if (opt == "--vary") sw.varies.push_back(value);
    else if (opt == "--seed" || opt == "--trace" || opt == "--trace-filter")
      throw UsageError(opt + ": not with a sweep (" + (opt == "--seed" ? "use --seeds A..B" : "trace a variant with its reproduction command") + ")");
    else return false;
    i = at;
    return true;
  };
  cl.command = parse_scenario_arguments(args, "sweep", sw.base, extra) ? Command::kSweep : Command::kSweepHelp;
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine cl;
  if (args.empty()) throw UsageError("no command given; try `hvsim --help`");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") { cl.command = Command::kHelp; return cl; }
  if (args[0] == "--version") { cl.command = Command::kVersion; return cl; }
  if (args[0] == "scenario") {
    parse_scenario_command(args, cl);
    return cl;
  }
  if (args[0] == "sweep") {
    parse_sweep_command(args, cl);
    return cl;
  }
  if (args[0] != "run") throw UsageError("unknown command '" + args[0] + "'; try `hvsim --help`");
  cl.command = Command::kRun;
  RunOptions& o = cl.run;
  bool have_guest = false;
  for (size_t i = 1; i < args.size(); ++i) {
    auto [opt, value] = take_option(args, i, run_option_has_value);
    if (opt == "--help" || opt == "-h") { cl.command = Command::kRunHelp; return cl; }
    apply_run_option(o, opt, value);
    have_guest = have_guest || opt == "--guest";
  }
  if (!have_guest) throw UsageError("run: --guest FILE is required; try `hvsim run --help`");
  if (o.machine.aps_parked && o.machine.vcpus < 2) throw UsageError("--ap-start parked: needs --vcpus 2 or more");
  validate(o.machine);
  return cl;
}

}  // namespace hvsim
