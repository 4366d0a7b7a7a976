// Structured, time-stamped trace records and the run's trace hash.
//
// A record is a trace point (trace_points.def), a virtual time, an optional vCPU and typed
// fields. Every record of a hashed point updates the rolling trace hash (a multiply-xorshift mix
// per 64-bit value, FNV-1a over string bytes) from its binary content, whether or not it is written anywhere, so turning on more output never changes the hash.
// Sinks: a JSON Lines file (filtered by name globs like "msr.*,io.*") and an in-memory capture for
// tests and expectations. Records are emitted only from the simulation thread, in execution order.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/virtual_time.h"

namespace hvsim {

enum class TracePoint : uint16_t {
#define X(id, name, hashed, verbose, doc) id,
#include "sim/core/trace_points.def"
#undef X
  kCount
};

std::string_view trace_point_name(TracePoint p);
bool trace_point_hashed(TracePoint p);

// One typed field of a record. Numbers print as decimal or "0x…" hex; strings are JSON-escaped.
struct TraceField {
  enum class Kind : uint8_t { kU64, kI64, kHex, kStr, kBool };
  const char* key;
  Kind kind;
  uint64_t num = 0;
  std::string_view str = {};

  static TraceField u64(const char* k, uint64_t v) { return {k, Kind::kU64, v}; }
  static TraceField i64(const char* k, int64_t v) { return {k, Kind::kI64, static_cast<uint64_t>(v)}; }
  static TraceField hex(const char* k, uint64_t v) { return {k, Kind::kHex, v}; }
  static TraceField str_(const char* k, std::string_view v) { return {k, Kind::kStr, 0, v}; }
  static TraceField boolean(const char* k, bool v) { return {k, Kind::kBool, v ? 1u : 0u}; }
};

constexpr int kNoVp = -1;

class Tracer {
 public:
  Tracer();
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Writes every record whose name matches one of the comma-separated globs ("*" = all) to a
  // JSON Lines file. Returns false if the file cannot be opened.
  bool open_jsonl(const std::string& path, const std::string& filter);
  // Keeps every record as a JSON line in memory (tests, expectations).
  void enable_capture() { capture_ = true; }
  const std::vector<std::string>& captured() const { return captured_; }
  // Observers see every record (already formatted) as it is emitted.
  using Observer = std::function<void(TracePoint, VirtualTime, int vp, std::string_view json)>;
  void add_observer(Observer o) { observers_.push_back(std::move(o)); }

  void emit(TracePoint p, VirtualTime t, int vp, std::initializer_list<TraceField> fields) {
    emit(p, t, vp, std::span<const TraceField>(fields.begin(), fields.size()));
  }
  void emit(TracePoint p, VirtualTime t, int vp, std::span<const TraceField> fields);
  // Whether a record of this point would be written or observed anywhere (hot paths check first).
  bool wants_json(TracePoint p) const;

  uint64_t hash() const { return hash_; }
  uint64_t records() const { return records_; }
  void flush();

 private:
  static std::string format(TracePoint p, VirtualTime t, int vp, std::span<const TraceField> f);

  uint64_t hash_;
  uint64_t records_ = 0;
  std::FILE* jsonl_ = nullptr;
  std::vector<bool> jsonl_enabled_;
  bool capture_ = false;
  std::vector<std::string> captured_;
  std::vector<Observer> observers_;
};

}  // namespace hvsim
