// Decodes translation blocks with Capstone once per machine: every vCPU's BlockCache asks the
// machine's one BlockDecoder, and a block already decoded for another vCPU (same guest virtual
// address, size and code bytes) is shared instead of decoded again. Decoding is a pure function
// of that key, so sharing cannot change behaviour; it only saves the decode (Capstone costs
// thousands of host instructions per guest instruction), which otherwise every one of 64 vCPUs
// repeats for the same code.
//
// Memory is bounded: past kMaxBlocks distinct keys the memo is emptied and refilled. Decoded
// blocks are shared_ptr-owned, so the vCPU caches that hold one keep it alive.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include <capstone/capstone.h>

namespace hvsim {

enum class SiteKind : uint8_t { kRdmsr, kWrmsr, kRdtsc, kRdtscp };

struct TrapSite {
  uint64_t addr;
  SiteKind kind;
  uint8_t length;
};

// One decoded block: its instruction count (for exact retired-instruction counting without
// Unicorn's slow `count`), each instruction's offset (to correct the count when a block stops
// part-way: a fault, a trap site), and the sites that must trap to the host because no Unicorn
// release can hook them (RDMSR, WRMSR, RDTSC, RDTSCP).
struct BlockInfo {
  uint64_t addr = 0;
  uint32_t size = 0;
  uint32_t count = 0;               // instructions in the block
  std::vector<uint32_t> offsets;    // start offset of each instruction
  std::vector<TrapSite> sites;
  // Offsets of the port I/O instructions, in order. Unicorn does not sync RIP for its IN/OUT
  // hooks, and a block runs straight through, so the n-th I/O exit of a block is the n-th entry.
  std::vector<uint32_t> io_offsets;
  bool ends_with_hlt = false;
  bool ends_with_rep_io = false;  // REP INS/OUTS: one I/O exit per element
  // Has an instruction that can set RFLAGS.IF (STI, POPF, IRET, SYSRET, SYSEXIT): only after
  // such a block can an interrupt window open (each of them ends QEMU's translation block).
  bool may_set_if = false;
  // Instructions at or after `rip` in this block (0 if rip is outside it).
  uint32_t not_reached(uint64_t rip) const;
  bool contains(uint64_t rip) const { return rip >= addr && rip < addr + size; }
};

class BlockDecoder {
 public:
  static constexpr size_t kMaxBlocks = 1u << 16;

  BlockDecoder();
  ~BlockDecoder();
  BlockDecoder(const BlockDecoder&) = delete;
  BlockDecoder& operator=(const BlockDecoder&) = delete;

  // The decoding of the `size` code bytes at `bytes`, which the guest runs at `addr`.
  std::shared_ptr<const BlockInfo> decode(uint64_t addr, uint32_t size, const uint8_t* bytes);
  size_t blocks() const { return blocks_; }  // distinct blocks held now
  uint64_t decoded() const { return decoded_; }  // Capstone decodings done, ever

 private:
  struct Decoded {
    std::vector<uint8_t> bytes;
    std::shared_ptr<const BlockInfo> info;
  };
  std::shared_ptr<const BlockInfo> run_capstone(uint64_t addr, uint32_t size, const uint8_t* bytes);

  csh capstone_ = 0;
  // (addr, size) -> the decodings of each code content seen there (usually one).
  std::map<std::pair<uint64_t, uint32_t>, std::vector<Decoded>> memo_;
  size_t blocks_ = 0;
  uint64_t decoded_ = 0;
};

}  // namespace hvsim
