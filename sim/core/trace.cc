#include "sim/core/trace.h"

#include <cinttypes>
#include <fnmatch.h>

#include "sim/core/rng.h"

namespace hvsim {
namespace {

struct PointInfo { std::string_view name; bool hashed; };
constexpr PointInfo kPoints[] = {
#define X(id, name, hashed, doc) {name, hashed},
#include "sim/core/trace_points.def"
#undef X
};

uint64_t hash_bytes(uint64_t h, const void* p, size_t n) {
  return fnv1a(std::string_view(static_cast<const char*>(p), n), h);
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
  std::string globs = filter.empty() ? "*" : filter;
  size_t start = 0;
  while (start <= globs.size()) {
    size_t comma = globs.find(',', start);
    std::string glob = globs.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    for (size_t i = 0; i < jsonl_enabled_.size(); ++i) {
      std::string name(kPoints[i].name);
      if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) jsonl_enabled_[i] = true;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

bool Tracer::wants_json(TracePoint p) const {
  return capture_ || !observers_.empty() || (jsonl_ && jsonl_enabled_[static_cast<size_t>(p)]);
}

std::string Tracer::format(TracePoint p, VirtualTime t, int vp, std::initializer_list<TraceField> fields) {
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

void Tracer::emit(TracePoint p, VirtualTime t, int vp, std::initializer_list<TraceField> fields) {
  ++records_;
  if (trace_point_hashed(p)) {
    auto id = static_cast<uint16_t>(p);
    uint64_t ps = t.ps();
    hash_ = hash_bytes(hash_, &id, sizeof id);
    hash_ = hash_bytes(hash_, &ps, sizeof ps);
    hash_ = hash_bytes(hash_, &vp, sizeof vp);
    for (const TraceField& f : fields) {
      hash_ = fnv1a(f.key, hash_);
      hash_ = hash_bytes(hash_, &f.num, sizeof f.num);
      hash_ = fnv1a(f.str, hash_);
    }
  }
  if (!wants_json(p)) return;
  std::string line = format(p, t, vp, fields);
  if (jsonl_ && jsonl_enabled_[static_cast<size_t>(p)]) {
    std::fwrite(line.data(), 1, line.size(), jsonl_);
    std::fputc('\n', jsonl_);
  }
  for (auto& o : observers_) o(p, t, vp, line);
  if (capture_) captured_.push_back(std::move(line));
}

void Tracer::flush() { if (jsonl_) std::fflush(jsonl_); }

}  // namespace hvsim
