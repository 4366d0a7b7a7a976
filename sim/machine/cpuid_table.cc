#include "sim/machine/cpuid_table.h"

#include <cstring>
#include <vector>

#include "sim/cpu/unicorn_vcpu.h"

namespace hvsim {
namespace {

const std::vector<std::pair<uint32_t, uint32_t>> kNativeLeaves = {
    {0, 0}, {1, 0}, {7, 0}, {0x80000000, 0}, {0x80000001, 0}, {0x80000008, 0}};

// DEVNOTE: the emulated CPU's native answers never change within a process, and reading them
// opens a scratch engine (milliseconds), so they are read once and shared by every machine.
const std::vector<CpuidResult>& native_leaves() {
  static const std::vector<CpuidResult> kValues = UnicornVcpu::native_cpuid(kNativeLeaves);
  return kValues;
}

constexpr uint32_t kLeaf1EcxX2apic = 1u << 21, kLeaf1EcxTscDeadline = 1u << 24, kLeaf1EcxHypervisor = 1u << 31;
constexpr uint32_t kExt1EcxSvm = 1u << 2;
constexpr uint32_t kExt7EdxInvariantTsc = 1u << 8;

unsigned bits_for(unsigned n) {
  unsigned b = 0;
  while ((1u << b) < n) ++b;
  return b;
}

}  // namespace

CpuidTable::CpuidTable(unsigned vcpu_count) : vcpu_count_(vcpu_count) {
  const auto& native = native_leaves();
  for (size_t i = 0; i < kNativeLeaves.size() && i < native.size(); ++i) leaves_[kNativeLeaves[i]] = native[i];
  leaves_[{0, 0}].eax = 0xb;
  CpuidResult& l1 = leaves_[{1, 0}];
  l1.ecx |= kLeaf1EcxX2apic | kLeaf1EcxTscDeadline | kLeaf1EcxHypervisor;  // the local APIC model has both
  leaves_[{0x80000001, 0}].ecx &= ~kExt1EcxSvm;
  leaves_[{0x80000000, 0}].eax = 0x80000008;
  leaves_[{0x80000007, 0}] = CpuidResult{0, 0, 0, kExt7EdxInvariantTsc};
  const char brand[48] = "hvsim virtual CPU";
  for (uint32_t i = 0; i < 3; ++i) {
    CpuidResult r;
    std::memcpy(&r, brand + 16 * i, 16);
    leaves_[{0x80000002 + i, 0}] = r;
  }
}

CpuidResult CpuidTable::lookup(int vp, uint32_t leaf, uint32_t subleaf) const {
  auto uvp = static_cast<uint32_t>(vp);
  if (leaf >= 0x40000000 && leaf <= 0x4fffffff) {
    if (hv_) {
      if (auto r = hv_(vp, leaf, subleaf)) return *r;
      return CpuidResult{};
    }
    if (leaf == 0x40000000) return CpuidResult{0x40000000, 0x69737668, 0x7668206d, 0x00006d69};  // "hvsim hvsim"
    return CpuidResult{};
  }
  if (leaf == 1) {
    CpuidResult r = leaves_.at({1, 0});
    r.ebx = (r.ebx & 0x0000ffffu) | (uvp << 24) | ((vcpu_count_ & 0xff) << 16);
    return r;
  }
  if (leaf == 0xb) {  // x2APIC topology: one thread per core, vcpu_count cores
    if (subleaf == 0) return CpuidResult{0, 1, 0x100, uvp};
    if (subleaf == 1) return CpuidResult{bits_for(vcpu_count_), vcpu_count_, 0x201, uvp};
    return CpuidResult{0, 0, subleaf, uvp};
  }
  auto it = leaves_.find({leaf, leaf == 7 ? subleaf : 0});
  return it == leaves_.end() ? CpuidResult{} : it->second;
}

}  // namespace hvsim
