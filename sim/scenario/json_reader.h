// Strict reading of a scenario's JSON with JSON-pointer error paths.
//
// parse_json_document() parses the whole text (a syntax error or a duplicate key is a UsageError
// naming the file, and the line and column or the key's pointer). Value is one JSON value and its
// pointer (RFC 6901, "" = the whole document); its getters check the type and range and throw
// UsageError "FILE: POINTER: expected WHAT, got VALUE" on any mismatch. Object declares the keys
// an object may have and rejects any other key at once ("FILE: POINTER/key: unknown key; expected
// one of: ..."). Nothing here knows the scenario format; scenario_spec.cc does.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/core/virtual_time.h"

namespace hvsim::scenario {

// Parses `text`; throws UsageError "FILE: ..." for a syntax error or a key repeated in one object.
nlohmann::json parse_json_document(const std::string& text, const std::string& file);

// `key` as one JSON-pointer segment ("~" -> "~0", "/" -> "~1").
std::string pointer_segment(std::string_view key);

class Value {
 public:
  Value(const nlohmann::json& json, std::string pointer, const std::string& file)
      : json_(&json), pointer_(std::move(pointer)), file_(&file) {}

  const nlohmann::json& json() const { return *json_; }
  const std::string& pointer() const { return pointer_; }
  const std::string& file() const { return *file_; }

  // Throws UsageError "FILE: POINTER: expected EXPECTED, got THIS VALUE".
  [[noreturn]] void fail(std::string_view expected) const;
  // Throws UsageError "FILE: POINTER: MESSAGE".
  [[noreturn]] void fail_message(std::string_view message) const;

  std::string string() const;                               // any string
  std::string string_of(std::initializer_list<std::string_view> choices) const;  // one of `choices`
  uint64_t integer(uint64_t min, uint64_t max) const;       // an integer in [min, max]
  bool boolean() const;
  VirtualTime duration() const;                             // "1500us", "2s", "0"
  std::optional<Value> find(std::string_view key) const;   // a member of an object, if present
  std::vector<Value> array() const;                         // the elements, with their pointers
  // The members of an object with any keys (device params, `where`), in key order.
  std::vector<std::pair<std::string, Value>> members() const;

 private:
  const nlohmann::json* json_;
  std::string pointer_;
  const std::string* file_;
};

// An object whose keys must all be among `allowed` (checked at construction).
class Object {
 public:
  Object(const Value& v, std::initializer_list<std::string_view> allowed);
  Object(const Value& v, const std::vector<std::string_view>& allowed);

  bool has(std::string_view key) const;
  std::optional<Value> optional(std::string_view key) const;
  Value required(std::string_view key) const;  // "FILE: POINTER: missing key \"KEY\""

 private:
  Value v_;
};

}  // namespace hvsim::scenario
