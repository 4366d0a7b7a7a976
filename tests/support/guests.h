// Paths to the guests CMake builds (build/guest/*.elf) and a helper to run the hvsim binary.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace hvsim::test {

// A temporary file name unique to this test process (ctest runs test processes in parallel).
inline std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + std::to_string(getpid()) + "_" + name;
}

inline std::string guest(const std::string& name) { return std::string(HVSIM_GUEST_DIR) + "/" + name + ".elf"; }

struct CliResult {
  int status = -1;
  std::string out, err;
};

// Runs `hvsim ARGS` (ARGS already shell-quoted) and captures stdout, stderr and the exit status.
inline CliResult run_hvsim(const std::string& args) {
  static int counter = 0;
  std::string err_path = ::testing::TempDir() + "hvsim_stderr_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  std::string cmd = std::string(HVSIM_BINARY) + " " + args + " 2>" + err_path;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (FILE* e = fopen(err_path.c_str(), "r")) {
    while ((n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
    fclose(e);
  }
  std::remove(err_path.c_str());
  return r;
}

}  // namespace hvsim::test
