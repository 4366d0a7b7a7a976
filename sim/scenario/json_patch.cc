// Field patches (contract in json_patch.h).
#include "sim/scenario/json_patch.h"

#include <vector>

#include "sim/core/status.h"
#include "sim/scenario/json_reader.h"
#include "sim/scenario/time_text.h"

namespace hvsim::scenario {
namespace {

using nlohmann::json;


std::optional<uint64_t> decimal(const std::string& s) { return parse_decimal(s); }

const char* kind_of(const json& j) {
  if (j.is_boolean()) return "a boolean";
  if (j.is_null()) return "null";
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array";
  return "a value";
}

[[noreturn]] void patch_error(const std::string& file, const FieldPatch& p, const std::string& message) {
  throw UsageError(file + ": --set " + p.pointer + ": " + message);
}

}  // namespace

FieldPatch parse_field_patch(const std::string& text) {
  size_t eq = text.find('=');
  if (text.empty() || text[0] != '/' || eq == std::string::npos || eq == 1)
    throw UsageError("--set: expected /json/pointer=VALUE (e.g. /vmbus/retarget_lag=500us), got '" + text + "'");
  return FieldPatch{text.substr(0, eq), text.substr(eq + 1)};
}

std::string patch_text(const FieldPatch& p) { return p.pointer + "=" + p.value; }

void apply_patch(json& doc, const FieldPatch& p, const std::string& file) {
  auto fail = [&](const std::string& message) { patch_error(file, p, message); };
  // Split and unescape the segments.
  std::vector<std::string> segments;
  for (size_t at = 0; at < p.pointer.size();) {
    size_t next = p.pointer.find('/', at + 1);
    std::string raw = p.pointer.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    std::string seg;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        seg += raw[i];
        continue;
      }
      if (i + 1 >= raw.size() || (raw[i + 1] != '0' && raw[i + 1] != '1'))
        fail("'~' must be followed by 0 or 1 in a JSON pointer");
      seg += raw[++i] == '0' ? '~' : '/';
    }
    segments.push_back(seg);
    at = next == std::string::npos ? p.pointer.size() : next;
  }
  json* node = &doc;
  std::string where;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i];
    std::string here = where + "/" + pointer_segment(seg);
    bool last = i + 1 == segments.size();
    if (node->is_object()) {
      auto it = node->find(seg);
      if (it == node->end()) {
        if (!last) fail(here + " does not exist");
        if (auto n = decimal(p.value)) (*node)[seg] = *n;
        else (*node)[seg] = p.value;
        return;
      }
      node = &*it;
    } else if (node->is_array()) {
      std::optional<uint64_t> index = decimal(seg);
      if (!index || *index >= node->size())
        fail(here + " does not exist (" + (where.empty() ? std::string("the document") : where) + " has " +
             std::to_string(node->size()) + " elements)");
      node = &(*node)[*index];
    } else {
      fail((where.empty() ? std::string("the document") : where) + " is not an object or an array");
    }
    where = here;
  }
  if (node->is_number()) {
    std::optional<uint64_t> n = decimal(p.value);
    if (!n) fail(where + " holds a number; expected a non-negative integer, got '" + p.value + "'");
    *node = *n;
  } else if (node->is_string()) {
    *node = p.value;
  } else {
    fail(where + " holds " + kind_of(*node) + "; only numbers and strings can be set");
  }
}

}  // namespace hvsim::scenario
