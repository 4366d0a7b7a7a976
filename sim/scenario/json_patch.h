// Field patches: `hvsim scenario FILE --set /json/pointer=VALUE` (and the variants of a sweep)
// change one number or string of the scenario document before it is validated.
//
// parse_field_patch() splits "POINTER=VALUE" at the first '='; the pointer is an RFC 6901 JSON
// pointer ("/vmbus/retarget_lag", "/timeline/0/at", "/devices/1/params/period"). apply_patch()
// replaces the value there: a number takes VALUE as a non-negative decimal integer, a string takes
// VALUE as it is; booleans, null, objects and arrays cannot be patched. A missing member of an
// existing object is added: an integer if VALUE is all digits, else a string. The parent must
// exist; array elements must exist. Every mistake is a UsageError "FILE: --set POINTER: ...",
// naming the pointer of the first segment that does not exist.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hvsim::scenario {

struct FieldPatch {
  std::string pointer;  // "/vmbus/retarget_lag"
  std::string value;    // "500us", "3"
};

// "POINTER=VALUE"; throws UsageError "--set: expected /json/pointer=VALUE, got '...'".
FieldPatch parse_field_patch(const std::string& text);
// "POINTER=VALUE" again (for reproduction commands).
std::string patch_text(const FieldPatch& p);
// Patches `doc`; `file` names it in messages. Throws UsageError.
void apply_patch(nlohmann::json& doc, const FieldPatch& p, const std::string& file);

}  // namespace hvsim::scenario
