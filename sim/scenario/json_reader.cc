// Strict JSON reading with pointer paths (contract in json_reader.h).
#include "sim/scenario/json_reader.h"

#include <set>

#include "sim/core/status.h"
#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

using nlohmann::json;

// The value as the message shows it: compact JSON, cut after 60 characters.
std::string shown(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string list_of(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::string_view i : items) {
    if (!out.empty()) out += ", ";
    out += i;
  }
  return out;
}

// Tracks where the parser is, to name a repeated key by its pointer.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& file) : file_(file) {}

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        enter_child();
        stack_.push_back(Frame{event == json::parse_event_t::array_start, 0, {}, {}});
        break;
      case json::parse_event_t::key: {
        Frame& top = stack_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second)
          throw UsageError(file_ + ": " + pointer() + ": key \"" + top.key + "\" appears twice in one object");
        break;
      }
      case json::parse_event_t::value: enter_child(); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: stack_.pop_back(); break;
    }
    return true;
  }

 private:
  struct Frame {
    bool array;
    size_t next_index;      // arrays: elements seen so far
    std::string key;        // objects: the current key
    std::set<std::string> keys;
  };
  void enter_child() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().next_index;
  }
  // The pointer of the innermost open container's current member.
  std::string pointer() const {
    std::string p;
    for (const Frame& f : stack_)
      p += "/" + (f.array ? std::to_string(f.next_index - 1) : pointer_segment(f.key));
    return p;
  }

  const std::string& file_;
  std::vector<Frame> stack_;
};

}  // namespace

json parse_json_document(const std::string& text, const std::string& file) {
  try {
    return json::parse(text, DuplicateKeyCheck(file));
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (size_t at = what.find("] "); what.rfind("[json.exception", 0) == 0 && at != std::string::npos)
      what = what.substr(at + 2);
    throw UsageError(file + ": not valid JSON: " + what);
  }
}

std::string pointer_segment(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

void Value::fail(std::string_view expected) const {
  fail_message("expected " + std::string(expected) + ", got " + shown(*json_));
}

void Value::fail_message(std::string_view message) const {
  throw UsageError(file() + ": " + (pointer_.empty() ? std::string("(top level)") : pointer_) + ": " + std::string(message));
}

std::string Value::string() const {
  if (!json_->is_string()) fail("a string");
  return json_->get<std::string>();
}

std::string Value::string_of(std::initializer_list<std::string_view> choices) const {
  std::vector<std::string_view> list(choices);
  std::string expected = "one of " + list_of(list);
  if (!json_->is_string()) fail(expected);
  std::string s = json_->get<std::string>();
  for (std::string_view c : choices)
    if (s == c) return s;
  fail(expected);
}

uint64_t Value::integer(uint64_t min, uint64_t max) const {
  std::string expected = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (json_->is_number_unsigned()) {  // non-negative integers parse as unsigned
    uint64_t v = json_->get<uint64_t>();
    if (v >= min && v <= max) return v;
  }
  fail(expected);
}

bool Value::boolean() const {
  if (!json_->is_boolean()) fail("true or false");
  return json_->get<bool>();
}

VirtualTime Value::duration() const {
  const char* expected = "a duration like \"1500us\" (an integer and ns, us, ms or s)";
  if (!json_->is_string()) fail(expected);
  std::optional<VirtualTime> t = parse_time_text(json_->get_ref<const std::string&>());
  if (!t) fail(expected);
  return *t;
}

std::optional<Value> Value::find(std::string_view key) const {
  if (!json_->is_object()) return std::nullopt;
  auto it = json_->find(key);
  if (it == json_->end()) return std::nullopt;
  return Value(*it, pointer_ + "/" + pointer_segment(key), file());
}

std::vector<Value> Value::array() const {
  if (!json_->is_array()) fail("an array");
  std::vector<Value> out;
  for (size_t i = 0; i < json_->size(); ++i) out.emplace_back((*json_)[i], pointer_ + "/" + std::to_string(i), file());
  return out;
}

std::vector<std::pair<std::string, Value>> Value::members() const {
  if (!json_->is_object()) fail("an object");
  std::vector<std::pair<std::string, Value>> out;
  for (const auto& [key, value] : json_->items()) out.emplace_back(key, Value(value, pointer_ + "/" + pointer_segment(key), file()));
  return out;
}

Object::Object(const Value& v, std::initializer_list<std::string_view> allowed)
    : Object(v, std::vector<std::string_view>(allowed)) {}

Object::Object(const Value& v, const std::vector<std::string_view>& allowed) : v_(v) {
  for (const auto& [key, member] : v.members()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) member.fail_message("unknown key; expected one of: " + list_of(allowed));
  }
}

bool Object::has(std::string_view key) const { return v_.json().contains(key); }

std::optional<Value> Object::optional(std::string_view key) const { return v_.find(key); }

Value Object::required(std::string_view key) const {
  std::optional<Value> v = optional(key);
  if (!v) v_.fail_message("missing key \"" + std::string(key) + "\"");
  return *v;
}

}  // namespace hvsim::scenario
