// Reads a guest ELF image (docs/guest-contract.md §1): ELF64, little-endian, x86-64, ET_EXEC.
// Returns the entry point and the PT_LOAD segments (physical and virtual address, file bytes,
// memory size). Any other input is a UsageError whose message names the file and the problem.
// Placing the segments in RAM is the boot layout's job. The .symtab's defined function, object
// and untyped symbols are read too (scenario triggers name them); a missing or malformed symbol
// table only means no symbols.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hvsim {

struct ElfSegment {
  uint64_t paddr = 0;
  uint64_t vaddr = 0;
  uint64_t memsz = 0;
  std::vector<uint8_t> bytes;  // p_filesz bytes; the rest up to memsz is zero
};

struct ElfImage {
  std::string path;
  uint64_t entry = 0;
  std::vector<ElfSegment> segments;
  // name -> value; a global wins over locals of its name; a name with several values is left out.
  std::map<std::string, uint64_t> symbols;
};

ElfImage load_elf(const std::string& path);
// Same, from bytes already in memory (tests, fuzzing); `name` appears in errors.
ElfImage parse_elf(const std::string& name, const std::vector<uint8_t>& file);

}  // namespace hvsim
