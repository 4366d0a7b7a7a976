// `hvsim sweep`: many variants of one scenario, run one after the other in one process.
//
// A variant is a seed and one value of every varied field. Seeds: "A..B" (inclusive) or "N"; ""
// means the scenario's own seed. A varied field: "POINTER=LO..HI[/STEP]", LO, HI and STEP unsigned
// decimal integers, either all plain (the field is set to integers) or all with a unit ns, us, ms
// or s (the field is set to durations, each written in the smallest unit of the three, e.g.
// 0us..20ms/500us gives "0us", "500us", ..., "20000us"). STEP defaults to 1 (of that unit); the
// values are LO, LO+STEP, ... up to HI. Variants are enumerated in a fixed order: seeds outermost,
// then the varied fields in command-line order (the last innermost).
// run_sweep() checks every variant's scenario first (a bad one is a UsageError naming it, before
// anything runs), then runs each as `hvsim scenario` would with the guest console off, and prints
// a table (one row per variant: seed, values, status, verdict, trace hash, failed checks), the
// counts, and for each failure the exact `hvsim scenario` command that reproduces it alone.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "sim/cli/cli_options.h"
#include "sim/scenario/json_patch.h"

namespace hvsim::scenario {

inline constexpr size_t kMaxSweepVariants = 100000;

struct VaryRange {
  std::string pointer;
  std::vector<std::string> values;  // as --set writes them: "17", "500us"
};

// Throw UsageError "--seeds: ..." / "--vary: ...".
std::vector<uint64_t> parse_seed_range(const std::string& text);
VaryRange parse_vary(const std::string& text);

struct SweepVariant {
  std::optional<uint64_t> seed;        // nullopt: the scenario's seed
  std::vector<FieldPatch> values;      // one per varied field
};

// Every variant, in the order above. Throws UsageError for bad ranges or too many variants.
std::vector<SweepVariant> sweep_variants(const SweepCommand& cmd);

// The command that runs `v` alone: `program` scenario FILE [--seed S] [the command's --set
// patches] [--set POINTER=VALUE per varied field] [the command's run options], shell-quoted.
std::string reproduction_command(const std::string& program, const SweepCommand& cmd, const SweepVariant& v);

// Runs the sweep, printing to `out`. Returns the exit status (0 all passed, 1 some failed).
// Throws UsageError (status 2) for bad options or a bad variant, before any variant runs.
int run_sweep(const SweepCommand& cmd, const std::string& program, std::FILE* out);

}  // namespace hvsim::scenario
