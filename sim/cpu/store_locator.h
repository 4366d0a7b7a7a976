// Finds, after the fact, which instruction of a translated block made a store that Unicorn
// refused because it targeted a write-protected page (a read/execute-only overlay page such as
// the hypercall page). Unicorn stops right after the refused store, before the storing
// instruction writes any register and before any later instruction runs, but it leaves RIP at
// the start of the block (measured on 2.1.1; tests/contract). The registers are therefore those
// the storing instruction saw, and its store address can be recomputed from them.
//
// locate_store() decodes the block and returns the address of the first instruction whose store
// (an explicit memory destination, or the stack slot of PUSH/PUSHF/CALL), computed with the
// current registers and translated through the guest's paging, touches the refused page; nullopt
// if none does. DEVNOTE: an earlier store of the block whose address registers a later
// instruction of the block changed can be chosen wrongly; that needs two stores to the page's
// neighbourhood in one block and is not handled.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>

namespace hvsim {

struct StoreSearch {
  const uint8_t* code = nullptr;  // the block's bytes
  uint32_t size = 0;
  uint64_t addr = 0;              // linear address of the block
  uint64_t fault_page = 0;        // page-aligned guest-physical address of the refused store
  // RAX RBX RCX RDX RSI RDI RBP RSP R8..R15 (the order of hvsim::Reg), then FS and GS bases.
  std::array<uint64_t, 16> gpr{};
  uint64_t fs_base = 0, gs_base = 0;
};

// Linear to guest-physical for a write, nullopt if the guest's paging does not map it.
using WriteTranslation = std::function<std::optional<uint64_t>(uint64_t linear)>;

std::optional<uint64_t> locate_store(const StoreSearch& s, const WriteTranslation& translate);

}  // namespace hvsim
