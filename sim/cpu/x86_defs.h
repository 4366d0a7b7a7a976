// x86-64 architectural constants hvsim's CPU layer uses (Intel SDM vol. 3): control-register and
// RFLAGS bits, exception vectors, descriptor fields. Definitions only.
#pragma once

#include <cstdint>

namespace hvsim::x86 {

constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5,
                   kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Pge = 1ull << 7, kCr4Osfxsr = 1ull << 9,
                   kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10,
                   kEferNxe = 1ull << 11;

constexpr uint64_t kRflagsCf = 1ull << 0, kRflagsFixed = 1ull << 1, kRflagsTf = 1ull << 8,
                   kRflagsIf = 1ull << 9, kRflagsNt = 1ull << 14, kRflagsRf = 1ull << 16,
                   kRflagsVm = 1ull << 17, kRflagsAc = 1ull << 18;

enum Vector : uint8_t {
  kDE = 0, kDB = 1, kNMI = 2, kBP = 3, kOF = 4, kBR = 5, kUD = 6, kNM = 7, kDF = 8,
  kTS = 10, kNP = 11, kSS = 12, kGP = 13, kPF = 14, kMF = 16, kAC = 17, kMC = 18, kXM = 19,
};
// Exceptions that push an error code.
constexpr bool has_error_code(uint8_t v) {
  return v == kDF || v == kTS || v == kNP || v == kSS || v == kGP || v == kPF || v == kAC;
}
const char* exception_mnemonic(uint8_t vector);

// Segment-descriptor fields in the high dword (SDM 3.4.5).
constexpr uint32_t kDescType = 0xf00, kDescS = 1u << 12, kDescP = 1u << 15, kDescL = 1u << 21,
                   kDescDb = 1u << 22, kDescG = 1u << 23;
constexpr unsigned kDescDplShift = 13;

// Gate types in 64-bit IDT entries.
constexpr uint8_t kGateInterrupt64 = 0xe, kGateTrap64 = 0xf;

// Architectural MSRs.
constexpr uint32_t kMsrTsc = 0x10, kMsrApicBase = 0x1b, kMsrTscAdjust = 0x3b, kMsrEfer = 0xc0000080,
                   kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrCstar = 0xc0000083,
                   kMsrFmask = 0xc0000084, kMsrFsBase = 0xc0000100, kMsrGsBase = 0xc0000101,
                   kMsrTscAux = 0xc0000103;

}  // namespace hvsim::x86
