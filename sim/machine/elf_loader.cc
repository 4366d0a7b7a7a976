#include "sim/machine/elf_loader.h"

#include <elf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "sim/core/status.h"

namespace hvsim {

ElfImage load_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot open guest image: " + std::strerror(errno));
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_elf(path, file);
}

ElfImage parse_elf(const std::string& name, const std::vector<uint8_t>& file) {
  auto fail = [&](const std::string& why) -> UsageError { return UsageError(name + ": " + why); };
  if (file.size() < EI_NIDENT || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
    throw fail("not an ELF file");
  if (file[EI_CLASS] != ELFCLASS64) throw fail("not a 64-bit ELF (ELFCLASS32 guests are not supported)");
  if (file[EI_DATA] != ELFDATA2LSB) throw fail("not a little-endian ELF");
  if (file.size() < sizeof(Elf64_Ehdr)) throw fail("truncated ELF header");
  Elf64_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof eh);
  if (eh.e_machine != EM_X86_64) throw fail("not an x86-64 ELF (e_machine " + std::to_string(eh.e_machine) + ")");
  if (eh.e_type != ET_EXEC) throw fail("not an executable ELF (ET_EXEC); position-independent or relocatable images are not supported");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) throw fail("unexpected program header size");
  uint64_t ph_end = eh.e_phoff + static_cast<uint64_t>(eh.e_phnum) * sizeof(Elf64_Phdr);
  if (eh.e_phoff > file.size() || ph_end > file.size()) throw fail("program headers lie outside the file");

  ElfImage img;
  img.path = name;
  img.entry = eh.e_entry;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, file.data() + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof ph);
    if (ph.p_type != PT_LOAD) continue;
    if (ph.p_filesz > ph.p_memsz) throw fail("segment " + std::to_string(i) + " has p_filesz > p_memsz");
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset)
      throw fail("segment " + std::to_string(i) + " lies outside the file");
    if (ph.p_paddr + ph.p_memsz < ph.p_paddr) throw fail("segment " + std::to_string(i) + " wraps the address space");
    ElfSegment seg;
    seg.paddr = ph.p_paddr;
    seg.memsz = ph.p_memsz;
    seg.bytes.assign(file.begin() + static_cast<long>(ph.p_offset), file.begin() + static_cast<long>(ph.p_offset + ph.p_filesz));
    img.segments.push_back(std::move(seg));
  }
  if (img.segments.empty()) throw fail("no PT_LOAD segments");
  return img;
}

}  // namespace hvsim
