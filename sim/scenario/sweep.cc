// Scenario sweeps (contract in sweep.h).
#include "sim/scenario/sweep.h"

#include <algorithm>

#include "sim/core/status.h"
#include "sim/scenario/scenario_runner.h"
#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

struct UnitName {
  std::string_view suffix;
  uint64_t ns;
};
// Longest suffixes first where one ends another.
constexpr UnitName kUnits[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};

std::optional<uint64_t> decimal(std::string_view s) { return parse_decimal(s); }

// A range bound: a number and its unit (nullopt: a plain integer).
struct Bound {
  uint64_t value = 0;
  std::optional<size_t> unit;  // index into kUnits
};

std::optional<Bound> parse_bound(std::string_view s) {
  if (auto v = decimal(s)) return Bound{*v, std::nullopt};
  for (size_t u = 0; u < std::size(kUnits); ++u) {
    std::string_view suffix = kUnits[u].suffix;
    if (s.size() > suffix.size() && s.ends_with(suffix))
      if (auto v = decimal(s.substr(0, s.size() - suffix.size()))) return Bound{*v, u};
  }
  return std::nullopt;
}

bool shell_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_./=:,+@%-").find(c) != std::string_view::npos;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), shell_safe)) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<FieldPatch> patches_of(const SweepCommand& cmd, const SweepVariant& v) {
  std::vector<FieldPatch> out;
  for (const std::string& s : cmd.base.sets) out.push_back(parse_field_patch(s));
  out.insert(out.end(), v.values.begin(), v.values.end());
  return out;
}

std::string variant_name(const SweepVariant& v) {
  std::string out = v.seed ? "seed " + std::to_string(*v.seed) : "the scenario's seed";
  for (const FieldPatch& p : v.values) out += ", " + patch_text(p);
  return out;
}

std::string padded(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::vector<uint64_t> parse_seed_range(const std::string& text) {
  const std::string expected = "--seeds: expected A..B (e.g. 1..1000) or one seed N, got '" + text + "'";
  size_t dots = text.find("..");
  std::optional<uint64_t> a = decimal(dots == std::string::npos ? text : text.substr(0, dots));
  std::optional<uint64_t> b = dots == std::string::npos ? a : decimal(text.substr(dots + 2));
  if (!a || !b) throw UsageError(expected);
  if (*b < *a) throw UsageError("--seeds: the range " + text + " is empty (B is below A)");
  if (*b - *a >= kMaxSweepVariants) throw UsageError("--seeds: at most " + std::to_string(kMaxSweepVariants) + " seeds, got " + text);
  std::vector<uint64_t> seeds;
  for (uint64_t s = *a;; ++s) {
    seeds.push_back(s);
    if (s == *b) break;
  }
  return seeds;
}

VaryRange parse_vary(const std::string& text) {
  const std::string expected = "--vary: expected POINTER=LO..HI[/STEP] (e.g. /machine/quantum=1000..5000/1000 or "
                               "/vmbus/retarget_lag=0us..20ms/500us), got '" + text + "'";
  size_t eq = text.find('=');
  if (text.empty() || text[0] != '/' || eq == std::string::npos) throw UsageError(expected);
  std::string range = text.substr(eq + 1);
  size_t dots = range.find(".."), slash = range.find('/');
  if (dots == std::string::npos) throw UsageError(expected);
  std::optional<Bound> lo = parse_bound(range.substr(0, dots));
  std::optional<Bound> hi = parse_bound(range.substr(dots + 2, slash == std::string::npos ? std::string::npos : slash - dots - 2));
  std::optional<Bound> step = slash == std::string::npos ? std::optional<Bound>(Bound{1, lo ? lo->unit : std::nullopt})
                                                         : parse_bound(range.substr(slash + 1));
  if (!lo || !hi || !step || slash < dots) throw UsageError(expected);
  if (lo->unit.has_value() != hi->unit.has_value() || lo->unit.has_value() != step->unit.has_value())
    throw UsageError("--vary: LO, HI and STEP all need a unit (ns, us, ms, s) or none, got '" + text + "'");
  // In the smallest unit used (all of them are exact multiples of it).
  size_t unit = std::min({lo->unit.value_or(0), hi->unit.value_or(0), step->unit.value_or(0)});
  auto scaled = [&](const Bound& b) -> uint64_t {
    if (!b.unit) return b.value;
    uint64_t f = kUnits[*b.unit].ns / kUnits[unit].ns;
    if (b.value > UINT64_MAX / f) throw UsageError("--vary: value too large in '" + text + "'");
    return b.value * f;
  };
  uint64_t l = scaled(*lo), h = scaled(*hi), s = scaled(*step);
  if (s == 0) throw UsageError("--vary: STEP must not be 0, got '" + text + "'");
  if (h < l) throw UsageError("--vary: the range in '" + text + "' is empty (HI is below LO)");
  if ((h - l) / s >= kMaxSweepVariants)
    throw UsageError("--vary: at most " + std::to_string(kMaxSweepVariants) + " values, got '" + text + "'");
  VaryRange r{text.substr(0, eq), {}};
  std::string suffix = lo->unit ? std::string(kUnits[unit].suffix) : "";
  for (uint64_t v = l;; v += s) {
    r.values.push_back(std::to_string(v) + suffix);
    if (h - v < s) break;
  }
  return r;
}

std::vector<SweepVariant> sweep_variants(const SweepCommand& cmd) {
  std::vector<std::optional<uint64_t>> seeds;
  if (cmd.seeds.empty()) seeds.push_back(std::nullopt);
  else
    for (uint64_t s : parse_seed_range(cmd.seeds)) seeds.push_back(s);
  std::vector<VaryRange> ranges;
  size_t total = seeds.size();
  for (const std::string& v : cmd.varies) {
    ranges.push_back(parse_vary(v));
    total *= ranges.back().values.size();
    if (total > kMaxSweepVariants)
      throw UsageError("sweep: more than " + std::to_string(kMaxSweepVariants) + " variants; narrow --seeds or --vary");
  }
  std::vector<SweepVariant> out;
  for (const auto& seed : seeds) {
    std::vector<size_t> at(ranges.size(), 0);  // an odometer over the ranges, the last fastest
    for (;;) {
      SweepVariant v{seed, {}};
      for (size_t r = 0; r < ranges.size(); ++r) v.values.push_back(FieldPatch{ranges[r].pointer, ranges[r].values[at[r]]});
      out.push_back(std::move(v));
      size_t r = ranges.size();
      while (r > 0 && ++at[r - 1] == ranges[r - 1].values.size()) at[--r] = 0;
      if (r == 0) break;
    }
  }
  return out;
}

std::string reproduction_command(const std::string& program, const SweepCommand& cmd, const SweepVariant& v) {
  std::string out = shell_quote(program) + " scenario " + shell_quote(cmd.base.file);
  if (v.seed) out += " --seed " + std::to_string(*v.seed);
  for (const FieldPatch& p : patches_of(cmd, v)) out += " --set " + shell_quote(patch_text(p));
  for (const auto& [opt, value] : cmd.base.options) out += " " + opt + (value.empty() && opt == "--no-console" ? "" : " " + shell_quote(value));
  return out;
}

int run_sweep(const SweepCommand& cmd, const std::string& program, std::FILE* out) {
  std::vector<SweepVariant> variants = sweep_variants(cmd);
  for (const SweepVariant& v : variants) {  // every variant's file must be valid before anything runs
    try {
      load_scenario(cmd.base.file, patches_of(cmd, v));
    } catch (const UsageError& e) {
      throw UsageError("sweep variant (" + variant_name(v) + "): " + e.what());
    }
  }
  // Columns: seed, one per varied field, status, verdict, trace hash, failed checks.
  std::vector<size_t> widths = {4};
  for (const SweepVariant& v : variants) widths[0] = std::max(widths[0], v.seed ? std::to_string(*v.seed).size() : 4);
  for (size_t r = 0; r < cmd.varies.size(); ++r) {
    size_t w = variants.front().values[r].pointer.size();
    for (const SweepVariant& v : variants) w = std::max(w, v.values[r].value.size());
    widths.push_back(w);
  }
  std::string header = padded("seed", widths[0]);
  for (size_t r = 0; r < cmd.varies.size(); ++r) header += "  " + padded(variants.front().values[r].pointer, widths[r + 1]);
  std::fprintf(out, "%s  status  verdict     trace_hash        failed\n", header.c_str());

  std::vector<const SweepVariant*> failures;
  for (const SweepVariant& v : variants) {
    Scenario s = load_scenario(cmd.base.file, patches_of(cmd, v));
    std::vector<std::pair<std::string, std::string>> options = cmd.base.options;
    if (v.seed) options.emplace_back("--seed", std::to_string(*v.seed));
    options.emplace_back("--no-console", "");
    ScenarioRunner runner(s, options);
    ScenarioReport r = runner.run();
    std::string failed;
    for (const auto* checks : {&r.actions, &r.expectations}) {
      for (const CheckResult& c : *checks) {
        if (c.held) continue;
        failed += (failed.empty() ? "" : ", ") + c.pointer;
        for (const Expectation& x : s.expectations)
          if (x.pointer == c.pointer && !x.name.empty()) failed += " \"" + x.name + "\"";
      }
    }
    if (r.status != 0 && failed.empty()) failed = "no expectation covers the ending";
    std::string row = padded(std::to_string(runner.machine().params().seed), widths[0]);
    for (size_t i = 0; i < v.values.size(); ++i) row += "  " + padded(v.values[i].value, widths[i + 1]);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(runner.machine().tracer().hash()));
    std::fprintf(out, "%s  %-6d  %-10s  %s  %s\n", row.c_str(), r.status, r.run.verdict.label().c_str(), hash,
                 failed.empty() ? "-" : failed.c_str());
    std::fflush(out);
    if (r.status != 0) failures.push_back(&v);
  }
  std::fprintf(out, "sweep: %zu variants, %zu passed, %zu failed\n", variants.size(), variants.size() - failures.size(),
               failures.size());
  for (const SweepVariant* v : failures) std::fprintf(out, "reproduce: %s\n", reproduction_command(program, cmd, *v).c_str());
  return failures.empty() ? 0 : 1;
}

}  // namespace hvsim::scenario
