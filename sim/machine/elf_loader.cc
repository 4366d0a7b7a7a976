#include "sim/machine/elf_loader.h"

#include <elf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "sim/core/status.h"

namespace hvsim {
namespace {

// The defined symbols of the first SHT_SYMTAB section; anything out of the file's bounds is skipped.
// A global wins over locals of its name; a name defined at several values otherwise (static
// functions of the same name in several files) is left out: it names no one address.
std::map<std::string, uint64_t> read_symbols(const std::vector<uint8_t>& file, const Elf64_Ehdr& eh) {
  std::map<std::string, uint64_t> out;
  auto inside = [&](uint64_t off, uint64_t len) { return off <= file.size() && len <= file.size() - off; };
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || !inside(eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr))) return out;
  auto section = [&](unsigned i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, file.data() + eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr), sizeof sh);
    return sh;
  };
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr symtab = section(i);
    if (symtab.sh_type != SHT_SYMTAB) continue;
    if (symtab.sh_link >= eh.e_shnum || !inside(symtab.sh_offset, symtab.sh_size)) return out;
    Elf64_Shdr strtab = section(symtab.sh_link);
    if (!inside(strtab.sh_offset, strtab.sh_size)) return out;
    struct Seen { uint64_t value; bool global; bool ambiguous; };
    std::map<std::string, Seen> seen;
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= symtab.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      std::memcpy(&sym, file.data() + symtab.sh_offset + off, sizeof sym);
      unsigned type = ELF64_ST_TYPE(sym.st_info);
      if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0 || sym.st_name >= strtab.sh_size ||
          (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE))
        continue;
      const char* name = reinterpret_cast<const char*>(file.data() + strtab.sh_offset + sym.st_name);
      size_t len = strnlen(name, strtab.sh_size - sym.st_name);
      if (len == 0 || len == strtab.sh_size - sym.st_name) continue;  // empty or unterminated
      bool global = ELF64_ST_BIND(sym.st_info) != STB_LOCAL;
      auto [it, fresh] = seen.try_emplace(std::string(name, len), Seen{sym.st_value, global, false});
      Seen& s = it->second;
      if (fresh) continue;
      if (global && !s.global) s = Seen{sym.st_value, true, false};
      else if (global == s.global && sym.st_value != s.value) s.ambiguous = true;
    }
    for (const auto& [name, s] : seen)
      if (!s.ambiguous) out.emplace(name, s.value);
    return out;
  }
  return out;
}

}  // namespace

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
    seg.vaddr = ph.p_vaddr;
    seg.memsz = ph.p_memsz;
    seg.bytes.assign(file.begin() + static_cast<long>(ph.p_offset), file.begin() + static_cast<long>(ph.p_offset + ph.p_filesz));
    img.segments.push_back(std::move(seg));
  }
  if (img.segments.empty()) throw fail("no PT_LOAD segments");
  img.symbols = read_symbols(file, eh);
  return img;
}

}  // namespace hvsim
