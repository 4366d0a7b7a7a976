// Reads a guest ELF image (docs/guest-contract.md §1): ELF64, little-endian, x86-64, ET_EXEC.
// Returns the entry point and the PT_LOAD segments (physical address, file bytes, memory size).
// Any other input is a UsageError whose message names the file and the problem. Placing the
// segments in RAM is the boot layout's job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hvsim {

struct ElfSegment {
  uint64_t paddr = 0;
  uint64_t memsz = 0;
  std::vector<uint8_t> bytes;  // p_filesz bytes; the rest up to memsz is zero
};

struct ElfImage {
  std::string path;
  uint64_t entry = 0;
  std::vector<ElfSegment> segments;
};

ElfImage load_elf(const std::string& path);
// Same, from bytes already in memory (tests, fuzzing); `name` appears in errors.
ElfImage parse_elf(const std::string& name, const std::vector<uint8_t>& file);

}  // namespace hvsim
