// The seam between a CPU backend and the machine: what a vCPU reports synchronously while it runs
// (MSR, CPUID, port I/O, TSC reads, hypercalls), and what a handler may do with the vCPU that
// exited. Handlers run inside CPU callbacks: they must not throw. Costs they add are in TSC
// cycles and advance the vCPU's local virtual time.
#pragma once

#include <cstdint>

#include "sim/core/virtual_time.h"

namespace hvsim {

enum class Reg : uint8_t {
  kRax, kRbx, kRcx, kRdx, kRsi, kRdi, kRbp, kRsp, kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15,
  kRip, kRflags, kCr0, kCr2, kCr3, kCr4, kEfer, kCount
};

class VcpuContext {
 public:
  virtual ~VcpuContext() = default;
  virtual int vp() const = 0;
  // The vCPU's local virtual time at the instruction being handled.
  virtual VirtualTime now() const = 0;
  virtual uint64_t reg(Reg r) const = 0;
  virtual void set_reg(Reg r, uint64_t v) = 0;
  // XMM0..XMM15 as two 64-bit halves (low first).
  virtual void read_xmm(unsigned n, uint64_t out[2]) const = 0;
  virtual void write_xmm(unsigned n, const uint64_t in[2]) = 0;
  // Current privilege level, and whether the vCPU runs 64-bit code (long mode, CS.L).
  virtual unsigned cpl() = 0;
  virtual bool in_64bit_mode() = 0;
  // Architectural MSRs the CPU emulator implements itself (EFER, STAR, FS base, PAT...).
  virtual uint64_t native_msr_read(uint32_t msr) = 0;
  virtual void native_msr_write(uint32_t msr, uint64_t value) = 0;
  // Adds modelled cost to this exit (TSC cycles).
  virtual void add_cycles(uint64_t cycles) = 0;
  // Ends the current run() as soon as the handler returns (the machine decides what follows).
  virtual void request_stop() = 0;
};

struct MsrRead { bool gp = false; uint64_t value = 0; };
// What a VMCALL/VMMCALL becomes: done (continue after it), retry (a continued rep hypercall:
// execute it again), or #UD (no hypervisor interface, or an illegal environment).
enum class HypercallResult : uint8_t { kDone, kRetry, kUndefined };
struct CpuidResult { uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0; };

// A memory-mapped device region (e.g. the xAPIC page). Offsets are relative to the region.
// DEVNOTE: Unicorn does not sync RIP for MMIO callbacks, so the vCPU time seen here is that of
// the start of the block making the access (at most one block early).
class MmioHandler {
 public:
  virtual ~MmioHandler() = default;
  virtual uint64_t mmio_read(VcpuContext& v, uint64_t offset, unsigned size) = 0;
  virtual void mmio_write(VcpuContext& v, uint64_t offset, unsigned size, uint64_t value) = 0;
};

class VcpuExitHandler {
 public:
  virtual ~VcpuExitHandler() = default;
  virtual MsrRead on_rdmsr(VcpuContext& v, uint32_t msr) = 0;
  virtual bool on_wrmsr(VcpuContext& v, uint32_t msr, uint64_t value) = 0;  // false: #GP(0)
  virtual CpuidResult on_cpuid(VcpuContext& v, uint32_t leaf, uint32_t subleaf) = 0;
  virtual uint32_t on_io_in(VcpuContext& v, uint16_t port, unsigned size) = 0;
  virtual void on_io_out(VcpuContext& v, uint16_t port, unsigned size, uint32_t value) = 0;
  virtual uint64_t on_rdtsc(VcpuContext& v) = 0;
  // VMCALL/VMMCALL: the handler reads and writes the hypercall registers.
  virtual HypercallResult on_hypercall(VcpuContext& v) = 0;
};

}  // namespace hvsim
