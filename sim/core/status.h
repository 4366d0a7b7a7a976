// Error kinds for the host side of hvsim. Guest-visible outcomes are values in the models
// (#GP, HV status codes); these are for the simulator itself:
//  - UsageError: bad user input (options, files). Carries the message shown to the user; the
//    CLI prints it and exits with status 2. Thrown only outside CPU callbacks.
//  - SIM_ASSERT: a simulator bug. Prints the condition and aborts; never reachable by guest input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace hvsim {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void sim_panic(const char* file, int line, const char* cond, const char* msg) {
  std::fprintf(stderr, "hvsim: internal error at %s:%d: %s (%s)\n", file, line, msg, cond);
  std::abort();
}

}  // namespace hvsim

#define SIM_ASSERT(cond, msg) \
  do { if (!(cond)) ::hvsim::sim_panic(__FILE__, __LINE__, #cond, msg); } while (0)
