#include "sim/cpu/block_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace hvsim {

TEST(BlockCache, CountsInstructionsAndFindsTrapSites) {
  BlockDecoder decoder;
  BlockCache cache(decoder);
  // mov ecx, 0x10; rdmsr; rdtsc; wrmsr; rdtscp; nop; hlt
  std::vector<uint8_t> code = {0xb9, 0x10, 0, 0, 0, 0x0f, 0x32, 0x0f, 0x31, 0x0f, 0x30, 0x0f, 0x01, 0xf9, 0x90, 0xf4};
  const BlockInfo& b = cache.insert(0x1000, static_cast<uint32_t>(code.size()), code.data());
  EXPECT_EQ(b.count, 7u);
  ASSERT_EQ(b.sites.size(), 4u);
  EXPECT_EQ(b.sites[0].kind, SiteKind::kRdmsr);
  EXPECT_EQ(b.sites[0].addr, 0x1005u);
  EXPECT_EQ(b.sites[1].kind, SiteKind::kRdtsc);
  EXPECT_EQ(b.sites[2].kind, SiteKind::kWrmsr);
  EXPECT_EQ(b.sites[3].kind, SiteKind::kRdtscp);
  EXPECT_EQ(b.sites[3].length, 3u);
  EXPECT_TRUE(b.ends_with_hlt);
  EXPECT_EQ(b.not_reached(0x1000), 7u);   // nothing retired yet
  EXPECT_EQ(b.not_reached(0x1005), 6u);   // the mov retired
  EXPECT_EQ(b.not_reached(0x1010), 0u);   // past the block
  EXPECT_EQ(cache.find(0x1000, static_cast<uint32_t>(code.size())), &b);
  EXPECT_EQ(cache.find(0x1000, 3), nullptr);  // same address, other size: another block
}

TEST(BlockCache, RecordsPortIoInOrder) {
  BlockDecoder decoder;
  BlockCache cache(decoder);
  // out dx, al; nop; in eax, 0x60; rep outsb
  std::vector<uint8_t> code = {0xee, 0x90, 0xe5, 0x60, 0xf3, 0x6e};
  const BlockInfo& b = cache.insert(0x3000, static_cast<uint32_t>(code.size()), code.data());
  EXPECT_EQ(b.io_offsets, (std::vector<uint32_t>{0, 2, 4}));
  EXPECT_TRUE(b.ends_with_rep_io);
}

TEST(BlockDecoder, MarksBlocksThatCanSetIf) {
  BlockDecoder decoder;
  std::vector<std::vector<uint8_t>> setters = {{0x90, 0xfb}, {0x9d}, {0x48, 0xcf}, {0x48, 0x0f, 0x07}};  // sti, popfq, iretq, sysretq
  uint64_t at = 0x6000;
  for (const auto& code : setters) {
    EXPECT_TRUE(decoder.decode(at, static_cast<uint32_t>(code.size()), code.data())->may_set_if) << at;
    at += 0x100;
  }
  std::vector<uint8_t> others = {0x90, 0xfa, 0x9c, 0xf4};  // nop, cli, pushfq, hlt
  EXPECT_FALSE(decoder.decode(at, static_cast<uint32_t>(others.size()), others.data())->may_set_if);
}

TEST(BlockCache, InvalidateDropsEverything) {
  BlockDecoder decoder;
  BlockCache cache(decoder);
  uint8_t nop = 0x90;
  cache.insert(0x2000, 1, &nop);
  EXPECT_EQ(cache.size(), 1u);
  cache.invalidate_all();
  EXPECT_EQ(cache.find(0x2000, 1), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(BlockCache, VcpusShareOneDecodingOfTheSameCode) {
  BlockDecoder decoder;
  BlockCache a(decoder), b(decoder);
  std::vector<uint8_t> code = {0x0f, 0x32, 0x90, 0xf4};  // rdmsr; nop; hlt
  const BlockInfo& first = a.insert(0x4000, 4, code.data());
  const BlockInfo& second = b.insert(0x4000, 4, code.data());
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(decoder.decoded(), 1u);
  a.invalidate_all();  // one vCPU dropping its cache leaves the other's entry valid
  EXPECT_EQ(b.find(0x4000, 4)->sites.size(), 1u);
}

TEST(BlockCache, OtherCodeAtTheSameAddressIsDecodedAgain) {
  BlockDecoder decoder;
  BlockCache a(decoder), b(decoder);
  std::vector<uint8_t> rdmsr = {0x0f, 0x32, 0x90, 0xf4};
  std::vector<uint8_t> rdtsc = {0x0f, 0x31, 0x90, 0xf4};  // another address space, or rewritten code
  a.insert(0x5000, 4, rdmsr.data());
  const BlockInfo& other = b.insert(0x5000, 4, rdtsc.data());
  EXPECT_EQ(decoder.decoded(), 2u);
  ASSERT_EQ(other.sites.size(), 1u);
  EXPECT_EQ(other.sites[0].kind, SiteKind::kRdtsc);
  EXPECT_EQ(a.find(0x5000, 4)->sites[0].kind, SiteKind::kRdmsr);
}

TEST(BlockDecoder, MemoIsBoundedAndRefills) {
  BlockDecoder decoder;
  uint8_t nop = 0x90;
  for (uint64_t i = 0; i <= BlockDecoder::kMaxBlocks; ++i) decoder.decode(0x10000 + i, 1, &nop);
  EXPECT_EQ(decoder.blocks(), 1u);  // emptied at the cap, then the last block decoded again
  EXPECT_EQ(decoder.decoded(), BlockDecoder::kMaxBlocks + 1);
  std::shared_ptr<const BlockInfo> again = decoder.decode(0x10000 + BlockDecoder::kMaxBlocks, 1, &nop);
  EXPECT_EQ(decoder.decoded(), BlockDecoder::kMaxBlocks + 1);  // still held: not decoded again
  EXPECT_EQ(again->count, 1u);
}

}  // namespace hvsim
