#include "sim/cpu/store_locator.h"

#include <gtest/gtest.h>

#include <vector>

namespace hvsim {
namespace {

constexpr uint64_t kBlock = 0x401000;
constexpr size_t kRdi = 5, kRsp = 7;

// Linear address L is guest-physical L + 0x100000 (so a test fails if translation is skipped).
std::optional<uint64_t> shifted(uint64_t linear) { return linear + 0x100000; }

std::optional<uint64_t> locate(const std::vector<uint8_t>& code, StoreSearch s) {
  s.code = code.data();
  s.size = static_cast<uint32_t>(code.size());
  s.addr = kBlock;
  return locate_store(s, shifted);
}

}  // namespace

TEST(StoreLocator, FindsTheStoreBehindInstructionsThatDoNotStore) {
  // lea rax, [rip]; mov rcx, [rdi]; mov [rdi+8], rbx; hlt
  std::vector<uint8_t> code = {0x48, 0x8d, 0x05, 0, 0, 0, 0, 0x48, 0x8b, 0x0f, 0x48, 0x89, 0x5f, 0x08, 0xf4};
  StoreSearch s;
  s.gpr[kRdi] = 0x7000;
  s.fault_page = 0x107000;
  EXPECT_EQ(locate(code, s), kBlock + 10);
  s.fault_page = 0x7000;  // the untranslated address is not the store's page
  EXPECT_EQ(locate(code, s), std::nullopt);
}

TEST(StoreLocator, PicksTheStoreThatTouchesThePageNotAnEarlierOne) {
  // mov [rsp+16], rax; mov [rdi], eax; hlt
  std::vector<uint8_t> code = {0x48, 0x89, 0x44, 0x24, 0x10, 0x89, 0x07, 0xf4};
  StoreSearch s;
  s.gpr[kRsp] = 0x9000;
  s.gpr[kRdi] = 0x7ffe;  // a 4-byte store at 0x7ffe reaches into the next page
  s.fault_page = 0x108000;
  EXPECT_EQ(locate(code, s), kBlock + 5);
}

TEST(StoreLocator, StackStoresOfPushAndCall) {
  StoreSearch s;
  s.gpr[kRsp] = 0x6008;  // the slot below RSP is on page 0x6000
  s.fault_page = 0x106000;
  EXPECT_EQ(locate({0x90, 0x50, 0xf4}, s), kBlock + 1);               // nop; push rax
  EXPECT_EQ(locate({0x90, 0xe8, 0, 0, 0, 0}, s), kBlock + 1);         // nop; call next
  EXPECT_EQ(locate({0x90, 0x9c}, s), kBlock + 1);                     // nop; pushfq
  s.gpr[kRsp] = 0x5008;
  EXPECT_EQ(locate({0x90, 0x50, 0xf4}, s), std::nullopt);
}

TEST(StoreLocator, RipRelativeAndSegmentBaseAddresses) {
  StoreSearch s;
  // mov [rip+0x1000], al  (7 bytes: next instruction at kBlock + 6)
  s.fault_page = (kBlock + 6 + 0x1000 + 0x100000) & ~0xfffull;
  EXPECT_EQ(locate({0x88, 0x05, 0x00, 0x10, 0x00, 0x00, 0xf4}, s), kBlock);
  // mov gs:[0x10], rax
  s.gs_base = 0x3000;
  s.fault_page = 0x103000;
  EXPECT_EQ(locate({0x65, 0x48, 0x89, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00}, s), kBlock);
}

TEST(StoreLocator, StringStoresAndUntranslatableAddresses) {
  std::vector<uint8_t> code = {0xf3, 0x48, 0xab};  // rep stosq
  StoreSearch s;
  s.gpr[kRdi] = 0x4000;
  s.fault_page = 0x104000;
  EXPECT_EQ(locate(code, s), kBlock);
  s.code = code.data();
  s.size = static_cast<uint32_t>(code.size());
  s.addr = kBlock;
  EXPECT_EQ(locate_store(s, [](uint64_t) { return std::optional<uint64_t>(); }), std::nullopt);
}

}  // namespace hvsim
