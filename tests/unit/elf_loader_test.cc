#include "sim/machine/elf_loader.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sim/core/status.h"
#include "tests/support/elf_builder.h"
#include "tests/support/usage_error.h"

namespace hvsim {
namespace {

std::string error_of(const std::vector<uint8_t>& f) { return test::usage_error_of([&] { parse_elf("g.elf", f); }); }

}  // namespace

TEST(ElfLoader, ReadsEntryAndSegments) {
  ElfImage img = parse_elf("g.elf", test::make_elf(0x100000, 16, 64));
  EXPECT_EQ(img.entry, 0x100000u);
  ASSERT_EQ(img.segments.size(), 1u);
  EXPECT_EQ(img.segments[0].paddr, 0x100000u);
  EXPECT_EQ(img.segments[0].bytes.size(), 16u);
  EXPECT_EQ(img.segments[0].memsz, 64u);
}

TEST(ElfLoader, RejectsWhatTheContractExcludes) {
  EXPECT_EQ(error_of({1, 2, 3}), "g.elf: not an ELF file");
  auto f = test::make_elf(0x100000, 16, 16);
  f[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(error_of(f).find("not a 64-bit ELF"), std::string::npos);
  f = test::make_elf(0x100000, 16, 16);
  reinterpret_cast<Elf64_Ehdr*>(f.data())->e_machine = EM_AARCH64;
  EXPECT_NE(error_of(f).find("not an x86-64 ELF"), std::string::npos);
  f = test::make_elf(0x100000, 16, 16);
  reinterpret_cast<Elf64_Ehdr*>(f.data())->e_type = ET_DYN;
  EXPECT_NE(error_of(f).find("ET_EXEC"), std::string::npos);
  f = test::make_elf(0x100000, 16, 8);
  EXPECT_NE(error_of(f).find("p_filesz > p_memsz"), std::string::npos);
  f = test::make_elf(0x100000, 16, 16);
  f.resize(f.size() - 8);
  EXPECT_NE(error_of(f).find("outside the file"), std::string::npos);
  f = test::make_elf(0x100000, 16, 16);
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
