#include "sim/core/trace.h"

#include <cinttypes>
#include <fnmatch.h>

#include "sim/core/rng.h"
#include "sim/core/text.h"

namespace hvsim {
namespace {

struct PointInfo { std::string_view name; bool hashed; bool verbose; };
constexpr PointInfo kPoints[] = {
#define X(id, name, hashed, verbose, doc) {name, hashed, verbose},
#include "sim/core/trace_points.def"
#undef X
};

// One multiply-xorshift step per 64-bit word (the trace hash's mixing function; not cryptographic).
uint64_t mix(uint64_t h, uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

std::string_view trace_point_name(TracePoint p) { return kPoints[static_cast<size_t>(p)].name; }
bool trace_point_hashed(TracePoint p) { return kPoints[static_cast<size_t>(p)].hashed; }

Tracer::Tracer() : hash_(kFnvOffset) {}
Tracer::~Tracer() { if (jsonl_) std::fclose(jsonl_); }

bool Tracer::open_jsonl(const std::string& path, const std::string& filter) {
  jsonl_ = std::fopen(path.c_str(), "w");
  if (!jsonl_) return false;
  jsonl_enabled_.assign(static_cast<size_t>(TracePoint::kCount), false);
  const std::string globs = filter.empty() ? "*" : filter;  // split_list's views point into it
  for (std::string_view piece : split_list(globs, ',')) {
    std::string glob(piece);
    for (size_t i = 0; i < jsonl_enabled_.size(); ++i) {
      std::string name(kPoints[i].name);
      if (kPoints[i].verbose && glob == "*") continue;
      if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) jsonl_enabled_[i] = true;
    }
  }
  return true;
}

bool Tracer::wants_json(TracePoint p) const {
  if (jsonl_ && jsonl_enabled_[static_cast<size_t>(p)]) return true;
  return !kPoints[static_cast<size_t>(p)].verbose && (capture_ || !observers_.empty());
}

std::string Tracer::format(TracePoint p, VirtualTime t, int vp, std::span<const TraceField> fields) {
  std::string out;
  out.reserve(96);
  char buf[48];
  std::snprintf(buf, sizeof buf, "{\"t\":%" PRIu64 ",", t.ps());
  out += buf;
  if (vp != kNoVp) {
    std::snprintf(buf, sizeof buf, "\"vp\":%d,", vp);
    out += buf;
  }
  out += "\"ev\":";
  append_json_string(out, trace_point_name(p));
  for (const TraceField& f : fields) {
    out += ",\"";
    out += f.key;
    out += "\":";
    switch (f.kind) {
      case TraceField::Kind::kU64: std::snprintf(buf, sizeof buf, "%" PRIu64, f.num); out += buf; break;
      case TraceField::Kind::kI64: std::snprintf(buf, sizeof buf, "%" PRId64, static_cast<int64_t>(f.num)); out += buf; break;
      case TraceField::Kind::kHex: std::snprintf(buf, sizeof buf, "\"0x%" PRIx64 "\"", f.num); out += buf; break;
      case TraceField::Kind::kBool: out += f.num ? "true" : "false"; break;
      case TraceField::Kind::kStr: append_json_string(out, f.str); break;
    }
  }
  out += '}';
  return out;
}

void Tracer::emit(TracePoint p, VirtualTime t, int vp, std::span<const TraceField> fields) {
  ++records_;
  if (trace_point_hashed(p)) {
    // A record's field names are fixed by its trace point, so only the point, time, vCPU and
    // field values are hashed, a 64-bit word at a time (strings byte-wise).
    hash_ = mix(hash_, static_cast<uint64_t>(p));
    hash_ = mix(hash_, t.ps());
    hash_ = mix(hash_, static_cast<uint64_t>(static_cast<int64_t>(vp)));
    for (const TraceField& f : fields) {
      hash_ = mix(hash_, f.num);
      if (f.kind == TraceField::Kind::kStr) hash_ = mix(fnv1a(f.str, hash_), f.str.size());
    }
  }
  if (!wants_json(p)) return;
  std::string line = format(p, t, vp, fields);
  if (jsonl_ && jsonl_enabled_[static_cast<size_t>(p)]) {
    std::fwrite(line.data(), 1, line.size(), jsonl_);
    std::fputc('\n', jsonl_);
  }
  if (kPoints[static_cast<size_t>(p)].verbose) return;
  for (auto& o : observers_) o(p, t, vp, line);
  if (capture_) captured_.push_back(std::move(line));
}

void Tracer::flush() { if (jsonl_) std::fflush(jsonl_); }

}  // namespace hvsim
