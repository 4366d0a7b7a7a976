#include "sim/machine/elf_loader.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sim/core/status.h"

namespace hvsim {
namespace {

std::vector<uint8_t> make_elf(uint64_t paddr, uint64_t filesz, uint64_t memsz) {
  std::vector<uint8_t> f(sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + filesz, 0xcc);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_entry = paddr;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_offset = sizeof eh + sizeof ph;
  ph.p_paddr = paddr;
  ph.p_filesz = filesz;
  ph.p_memsz = memsz;
  std::memcpy(f.data(), &eh, sizeof eh);
  std::memcpy(f.data() + sizeof eh, &ph, sizeof ph);
  return f;
}

std::string error_of(const std::vector<uint8_t>& f) {
  try {
    parse_elf("g.elf", f);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ElfLoader, ReadsEntryAndSegments) {
  ElfImage img = parse_elf("g.elf", make_elf(0x100000, 16, 64));
  EXPECT_EQ(img.entry, 0x100000u);
  ASSERT_EQ(img.segments.size(), 1u);
  EXPECT_EQ(img.segments[0].paddr, 0x100000u);
  EXPECT_EQ(img.segments[0].bytes.size(), 16u);
  EXPECT_EQ(img.segments[0].memsz, 64u);
}

TEST(ElfLoader, RejectsWhatTheContractExcludes) {
  EXPECT_EQ(error_of({1, 2, 3}), "g.elf: not an ELF file");
  auto f = make_elf(0x100000, 16, 16);
  f[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(error_of(f).find("not a 64-bit ELF"), std::string::npos);
  f = make_elf(0x100000, 16, 16);
  reinterpret_cast<Elf64_Ehdr*>(f.data())->e_machine = EM_AARCH64;
  EXPECT_NE(error_of(f).find("not an x86-64 ELF"), std::string::npos);
  f = make_elf(0x100000, 16, 16);
  reinterpret_cast<Elf64_Ehdr*>(f.data())->e_type = ET_DYN;
  EXPECT_NE(error_of(f).find("ET_EXEC"), std::string::npos);
  f = make_elf(0x100000, 16, 8);
  EXPECT_NE(error_of(f).find("p_filesz > p_memsz"), std::string::npos);
  f = make_elf(0x100000, 16, 16);
  f.resize(f.size() - 8);
  EXPECT_NE(error_of(f).find("outside the file"), std::string::npos);
  f = make_elf(0x100000, 16, 16);
  reinterpret_cast<Elf64_Ehdr*>(f.data())->e_phnum = 40;
  EXPECT_NE(error_of(f).find("program headers lie outside the file"), std::string::npos);
}

TEST(ElfLoader, MissingFileNamesThePath) {
  try {
    load_elf("/nonexistent/guest.elf");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/guest.elf: cannot open"), std::string::npos);
  }
}

}  // namespace hvsim
