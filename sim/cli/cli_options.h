// Parses `hvsim` command lines into MachineParams and output options. Every mistake is a
// UsageError naming the option and what was expected; the CLI prints it and exits with status 2.
#pragma once

#include <string>
#include <vector>

#include "sim/machine/machine.h"

namespace hvsim {

struct RunOptions {
  MachineParams machine;
  std::string trace_path;     // JSON Lines trace, empty = none
  std::string trace_filter;   // comma-separated globs, empty = all
};

enum class Command { kHelp, kVersion, kRun, kRunHelp, kScenario, kScenarioHelp, kSweep, kSweepHelp };

// `hvsim scenario FILE [options]`: the file, the `--set POINTER=VALUE` field patches in order (the
// text after --set; sim/scenario/json_patch.h applies them), and the run options given, in order,
// as (option, value) pairs ("--no-console" has an empty value). They override the scenario's
// values: apply them with apply_run_option() to the RunOptions built from the scenario.
struct ScenarioCommand {
  std::string file;
  std::vector<std::string> sets;
  std::vector<std::pair<std::string, std::string>> options;
};

// `hvsim sweep FILE [--seeds A..B] [--vary POINTER=LO..HI/STEP]... [scenario options]`: the
// scenario command every variant starts from (no --seed, --trace or --trace-filter), the seed
// range ("" = the scenario's seed) and the varied fields in order (sim/scenario/sweep.h parses them).
struct SweepCommand {
  ScenarioCommand base;
  std::string seeds;
  std::vector<std::string> varies;
};

struct CommandLine {
  Command command = Command::kHelp;
  RunOptions run;
  ScenarioCommand scenario;
  SweepCommand sweep;
};

CommandLine parse_command_line(const std::vector<std::string>& args);

// Applies one `hvsim run` option (name with its dashes, value; "" for --no-console) to `o`.
// Throws UsageError for an unknown option or a bad value.
void apply_run_option(RunOptions& o, const std::string& option, const std::string& value);

// "64M", "1G", "4096K", "1048576" (bytes).
uint64_t parse_size(const std::string& option, const std::string& text);
// "50ms", "2s", "10us", "500ns"; "0" means no limit.
VirtualTime parse_duration(const std::string& option, const std::string& text);
// The same, but "0" is a zero span (lags, latencies, windows).
VirtualTime parse_span(const std::string& option, const std::string& text);

extern const char kMainHelp[];
extern const char kRunHelp[];
extern const char kScenarioHelp[];
extern const char kSweepHelp[];

}  // namespace hvsim
