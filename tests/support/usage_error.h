// What a test of bad user input checks: usage_error_of(f) calls f and returns the message of the
// hvsim::UsageError it throws, or "" if it returns without one. Other exceptions pass through.
#pragma once

#include <string>

#include "sim/core/status.h"

namespace hvsim::test {

template <typename F> std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace hvsim::test
