// Hyper-V synthetic MSR numbers and register bits (TLFS vp-properties, partition-properties,
// timers, virtual-interrupts; Linux arch/x86/include/asm/hyperv-tlfs.h; PROTOCOL.md §2).
// Definitions only.
#pragma once

#include <cstdint>

namespace hvsim::hv {

constexpr uint32_t HV_X64_MSR_GUEST_OS_ID = 0x40000000;
constexpr uint32_t HV_X64_MSR_HYPERCALL = 0x40000001;
constexpr uint32_t HV_X64_MSR_VP_INDEX = 0x40000002;
constexpr uint32_t HV_X64_MSR_RESET = 0x40000003;
constexpr uint32_t HV_X64_MSR_VP_RUNTIME = 0x40000010;
constexpr uint32_t HV_X64_MSR_TIME_REF_COUNT = 0x40000020;
constexpr uint32_t HV_X64_MSR_REFERENCE_TSC = 0x40000021;
constexpr uint32_t HV_X64_MSR_TSC_FREQUENCY = 0x40000022;
constexpr uint32_t HV_X64_MSR_APIC_FREQUENCY = 0x40000023;
constexpr uint32_t HV_X64_MSR_EOI = 0x40000070;
constexpr uint32_t HV_X64_MSR_ICR = 0x40000071;
constexpr uint32_t HV_X64_MSR_TPR = 0x40000072;
constexpr uint32_t HV_X64_MSR_VP_ASSIST_PAGE = 0x40000073;
constexpr uint32_t HV_X64_MSR_SCONTROL = 0x40000080;
constexpr uint32_t HV_X64_MSR_SVERSION = 0x40000081;
constexpr uint32_t HV_X64_MSR_SIEFP = 0x40000082;
constexpr uint32_t HV_X64_MSR_SIMP = 0x40000083;
constexpr uint32_t HV_X64_MSR_EOM = 0x40000084;
constexpr uint32_t HV_X64_MSR_SINT0 = 0x40000090;
constexpr uint32_t HV_X64_MSR_SINT15 = 0x4000009f;
constexpr uint32_t HV_X64_MSR_STIMER0_CONFIG = 0x400000b0;
constexpr uint32_t HV_X64_MSR_STIMER3_COUNT = 0x400000b7;
constexpr uint32_t HV_X64_MSR_GUEST_IDLE = 0x400000f0;
constexpr uint32_t HV_X64_MSR_CRASH_P0 = 0x40000100;
constexpr uint32_t HV_X64_MSR_CRASH_P4 = 0x40000104;
constexpr uint32_t HV_X64_MSR_CRASH_CTL = 0x40000105;
constexpr uint32_t HV_X64_MSR_REENLIGHTENMENT_CONTROL = 0x40000106;
constexpr uint32_t HV_X64_MSR_TSC_EMULATION_CONTROL = 0x40000107;
constexpr uint32_t HV_X64_MSR_TSC_EMULATION_STATUS = 0x40000108;
constexpr uint32_t HV_X64_MSR_TSC_INVARIANT_CONTROL = 0x40000118;

// HYPERCALL, REFERENCE_TSC, VP_ASSIST_PAGE, SIMP, SIEFP: b0 enable, [11:1 or 11:2] RsvdP, [63:12] GPA.
constexpr uint64_t kOverlayEnable = 1ull << 0;
constexpr uint64_t kHypercallLocked = 1ull << 1;
constexpr uint64_t kOverlayGpaMask = ~0xfffull;

// CRASH_CTL.
constexpr uint64_t HV_CRASH_CTL_CRASH_NOTIFY = 1ull << 63;
constexpr uint64_t HV_CRASH_CTL_CRASH_NOTIFY_MSG = 1ull << 62;
constexpr uint64_t kCrashMessageMax = 4096;

// REENLIGHTENMENT_CONTROL: [7:0] vector, [15:8] RsvdZ, b16 enabled, [31:17] RsvdZ, [63:32] target VP.
constexpr uint64_t kReenlightenmentRsvdZ = 0x00000000fffeff00ull;
constexpr uint64_t kReenlightenmentEnabled = 1ull << 16;  // REENLIGHTENMENT_CONTROL b16

}  // namespace hvsim::hv
