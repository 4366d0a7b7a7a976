// Hyper-V hypervisor CPUID leaves (0x40000000-0x4000000C): leaf numbers, the interface signature,
// the vendor string, and every bit of 0x40000003 EAX/EBX/ECX/EDX, 0x40000004 EAX and 0x40000006 EAX.
// Definitions only (PROTOCOL.md §1.1-§1.7; TLFS feature-discovery.md). Names are the TLFS field
// names as kHv<Name>; each constant is a mask within its own 32-bit register, so a bit is named
// once per register (3A/3B/3C/3D/4A/6A below). Where the TLFS marks a bit reserved, the name is
// openvmm's or Linux's (PROTOCOL §1.4/§1.5 notes). Which bits hvsim sets is in cpuid_leaves.h.
#pragma once

#include <cstdint>

namespace hvsim::hv {

// ---- Leaf numbers (PROTOCOL §1.1) ----
inline constexpr uint32_t kHvCpuIdFunctionHvVendorAndMaxFunction = 0x40000000;
inline constexpr uint32_t kHvCpuIdFunctionHvInterface = 0x40000001;
inline constexpr uint32_t kHvCpuIdFunctionMsHvVersion = 0x40000002;
inline constexpr uint32_t kHvCpuIdFunctionMsHvFeatures = 0x40000003;
inline constexpr uint32_t kHvCpuIdFunctionMsHvEnlightenmentInformation = 0x40000004;
inline constexpr uint32_t kHvCpuIdFunctionMsHvImplementationLimits = 0x40000005;
inline constexpr uint32_t kHvCpuIdFunctionMsHvHardwareFeatures = 0x40000006;
inline constexpr uint32_t kHvCpuIdFunctionMsHvCpuManagementFeatures = 0x40000007;
inline constexpr uint32_t kHvCpuIdFunctionMsHvSvmFeatures = 0x40000008;
inline constexpr uint32_t kHvCpuIdFunctionMsHvNestedFeatures = 0x40000009;
inline constexpr uint32_t kHvCpuIdFunctionMsHvNestedVirtFeatures = 0x4000000A;
inline constexpr uint32_t kHvCpuIdFunctionMsHvIsolationConfiguration = 0x4000000C;

// ---- 0x40000000 / 0x40000001: identification ----
// Interface signature in 0x40000001 EAX: "Hv#1" (a guest checks this, not the vendor string).
inline constexpr uint32_t kHvInterfaceSignatureHv1 = 0x31237648;
// Vendor string in 0x40000000 EBX:ECX:EDX, 12 bytes, little-endian per register.
inline constexpr char kHvVendorMicrosoftHv[] = "Microsoft Hv";
inline constexpr uint32_t kHvVendorIdMaxLength = 12;
inline constexpr uint32_t kHvVendorMicrosoftHvEbx = 0x7263694D;  // "Micr"
inline constexpr uint32_t kHvVendorMicrosoftHvEcx = 0x666F736F;  // "osof"
inline constexpr uint32_t kHvVendorMicrosoftHvEdx = 0x76482074;  // "t Hv"

// Packs four characters the way CPUID returns them in one register (first character lowest).
constexpr uint32_t hv_cpuid_chars(const char* s) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[0])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}
static_assert(hv_cpuid_chars("Hv#1") == kHvInterfaceSignatureHv1);
static_assert(hv_cpuid_chars(kHvVendorMicrosoftHv + 0) == kHvVendorMicrosoftHvEbx);
static_assert(hv_cpuid_chars(kHvVendorMicrosoftHv + 4) == kHvVendorMicrosoftHvEcx);
static_assert(hv_cpuid_chars(kHvVendorMicrosoftHv + 8) == kHvVendorMicrosoftHvEdx);
static_assert(sizeof(kHvVendorMicrosoftHv) == kHvVendorIdMaxLength + 1);

// ---- 0x40000002: version (EBX [31:16] major, [15:0] minor; EDX [31:24] branch, [23:0] number) ----
inline constexpr uint32_t kHvServiceBranchShift = 24;
inline constexpr uint32_t kHvServiceNumberMask = 0x00FFFFFF;

// ---- 0x40000003 EAX: partition privilege mask bits 31:0 (PROTOCOL §1.2) ----
inline constexpr uint32_t kHvAccessVpRunTimeReg = 1u << 0;
inline constexpr uint32_t kHvAccessPartitionReferenceCounter = 1u << 1;
inline constexpr uint32_t kHvAccessSynicRegs = 1u << 2;
inline constexpr uint32_t kHvAccessSyntheticTimerRegs = 1u << 3;
inline constexpr uint32_t kHvAccessIntrCtrlRegs = 1u << 4;
inline constexpr uint32_t kHvAccessHypercallMsrs = 1u << 5;
inline constexpr uint32_t kHvAccessVpIndex = 1u << 6;
inline constexpr uint32_t kHvAccessResetReg = 1u << 7;
inline constexpr uint32_t kHvAccessStatsReg = 1u << 8;
inline constexpr uint32_t kHvAccessPartitionReferenceTsc = 1u << 9;
inline constexpr uint32_t kHvAccessGuestIdleReg = 1u << 10;
inline constexpr uint32_t kHvAccessFrequencyRegs = 1u << 11;
inline constexpr uint32_t kHvAccessDebugRegs = 1u << 12;
inline constexpr uint32_t kHvAccessReenlightenmentControls = 1u << 13;
inline constexpr uint32_t kHvAccessRootSchedulerReg = 1u << 14;
inline constexpr uint32_t kHvAccessTscInvariantControls = 1u << 15;

// ---- 0x40000003 EBX: privilege mask bits 63:32, hypercall permissions (PROTOCOL §1.3) ----
inline constexpr uint32_t kHvCreatePartitions = 1u << 0;
inline constexpr uint32_t kHvAccessPartitionId = 1u << 1;
inline constexpr uint32_t kHvAccessMemoryPool = 1u << 2;
inline constexpr uint32_t kHvAdjustMessageBuffers = 1u << 3;
inline constexpr uint32_t kHvPostMessages = 1u << 4;
inline constexpr uint32_t kHvSignalEvents = 1u << 5;
inline constexpr uint32_t kHvCreatePort = 1u << 6;
inline constexpr uint32_t kHvConnectPort = 1u << 7;
inline constexpr uint32_t kHvAccessStats = 1u << 8;
inline constexpr uint32_t kHvDebugging = 1u << 11;
inline constexpr uint32_t kHvCpuManagement = 1u << 12;
inline constexpr uint32_t kHvConfigureProfiler = 1u << 13;
inline constexpr uint32_t kHvAccessVpExitTracing = 1u << 14;
inline constexpr uint32_t kHvEnableExtendedGvaRangesForFlushVirtualAddressList = 1u << 15;
inline constexpr uint32_t kHvAccessVsm = 1u << 16;
inline constexpr uint32_t kHvAccessVpRegisters = 1u << 17;
inline constexpr uint32_t kHvFastHypercallOutput = 1u << 19;
inline constexpr uint32_t kHvEnableExtendedHypercalls = 1u << 20;
inline constexpr uint32_t kHvStartVirtualProcessor = 1u << 21;
inline constexpr uint32_t kHvIsolation = 1u << 22;

// ---- 0x40000003 ECX: power management / misc (PROTOCOL §1.4) ----
inline constexpr uint32_t kHvMaxProcessorPowerStateMask = 0xFu;  // [3:0]: 0 = C0 ... 3 = C3
inline constexpr uint32_t kHvHpetNeededForC3PowerState = 1u << 4;
inline constexpr uint32_t kHvInvariantMperfAvailable = 1u << 5;
inline constexpr uint32_t kHvSupervisorShadowStackAvailable = 1u << 6;
inline constexpr uint32_t kHvArchitecturalPmuAvailable = 1u << 7;
inline constexpr uint32_t kHvExceptionTrapInterceptAvailable = 1u << 8;
inline constexpr uint32_t kHvVpDispatchInterruptInjectionAvailable = 1u << 9;
inline constexpr uint32_t kHvGhcbRootMappingAvailable = 1u << 10;

// ---- 0x40000003 EDX: feature flags (PROTOCOL §1.5) ----
inline constexpr uint32_t kHvMwaitAvailable = 1u << 0;  // deprecated
inline constexpr uint32_t kHvGuestDebuggingAvailable = 1u << 1;
inline constexpr uint32_t kHvPerformanceMonitorsAvailable = 1u << 2;
inline constexpr uint32_t kHvCpuDynamicPartitioningAvailable = 1u << 3;
inline constexpr uint32_t kHvXmmRegistersForFastHypercallAvailable = 1u << 4;
inline constexpr uint32_t kHvGuestIdleAvailable = 1u << 5;
inline constexpr uint32_t kHvHypervisorSleepStateAvailable = 1u << 6;
inline constexpr uint32_t kHvNumaDistanceQueryAvailable = 1u << 7;
inline constexpr uint32_t kHvFrequencyRegsAvailable = 1u << 8;
inline constexpr uint32_t kHvSyntheticMachineCheckAvailable = 1u << 9;
inline constexpr uint32_t kHvGuestCrashRegsAvailable = 1u << 10;
inline constexpr uint32_t kHvDebugRegsAvailable = 1u << 11;
inline constexpr uint32_t kHvNpiepAvailable = 1u << 12;
inline constexpr uint32_t kHvDisableHypervisorAvailable = 1u << 13;
inline constexpr uint32_t kHvExtendedGvaRangesForFlushVirtualAddressListAvailable = 1u << 14;
inline constexpr uint32_t kHvFastHypercallOutputAvailable = 1u << 15;
inline constexpr uint32_t kHvSvmFeaturesAvailable = 1u << 16;
inline constexpr uint32_t kHvSintPollingModeAvailable = 1u << 17;
inline constexpr uint32_t kHvHypercallMsrLockAvailable = 1u << 18;
inline constexpr uint32_t kHvDirectSyntheticTimers = 1u << 19;
inline constexpr uint32_t kHvRegisterPatAvailable = 1u << 20;
inline constexpr uint32_t kHvRegisterBndcfgsAvailable = 1u << 21;
inline constexpr uint32_t kHvWatchdogTimerAvailable = 1u << 22;
inline constexpr uint32_t kHvSyntheticTimeUnhaltedTimerAvailable = 1u << 23;
inline constexpr uint32_t kHvDeviceDomainsAvailable = 1u << 24;
inline constexpr uint32_t kHvS1DeviceDomainsAvailable = 1u << 25;
inline constexpr uint32_t kHvLbrAvailable = 1u << 26;
inline constexpr uint32_t kHvIptAvailable = 1u << 27;
inline constexpr uint32_t kHvCrossVtlFlushAvailable = 1u << 28;
inline constexpr uint32_t kHvIdleSpecCtrlAvailable = 1u << 29;
inline constexpr uint32_t kHvTranslateGvaFlagsAvailable = 1u << 30;
inline constexpr uint32_t kHvApicEoiInterceptAvailable = 1u << 31;

// ---- 0x40000004 EAX: implementation recommendations (PROTOCOL §1.6) ----
inline constexpr uint32_t kHvUseHypercallForAddressSpaceSwitch = 1u << 0;
inline constexpr uint32_t kHvUseHypercallForLocalFlush = 1u << 1;
inline constexpr uint32_t kHvUseHypercallForRemoteFlushAndLocalFlushEntire = 1u << 2;
inline constexpr uint32_t kHvUseApicMsrs = 1u << 3;
inline constexpr uint32_t kHvUseHvRegisterForReset = 1u << 4;
inline constexpr uint32_t kHvUseRelaxedTiming = 1u << 5;
inline constexpr uint32_t kHvUseDmaRemapping = 1u << 6;
inline constexpr uint32_t kHvUseInterruptRemapping = 1u << 7;
inline constexpr uint32_t kHvUseX2ApicMsrs = 1u << 8;
inline constexpr uint32_t kHvDeprecateAutoEoi = 1u << 9;
inline constexpr uint32_t kHvUseSyntheticClusterIpi = 1u << 10;
inline constexpr uint32_t kHvUseExProcessorMasks = 1u << 11;
inline constexpr uint32_t kHvNested = 1u << 12;
inline constexpr uint32_t kHvUseIntForMbecSystemCalls = 1u << 13;
inline constexpr uint32_t kHvUseVmcsEnlightenments = 1u << 14;
inline constexpr uint32_t kHvUseSyncedTimeline = 1u << 15;
inline constexpr uint32_t kHvCoreSchedulerRequested = 1u << 16;
inline constexpr uint32_t kHvUseDirectLocalFlushEntire = 1u << 17;
inline constexpr uint32_t kHvNoNonArchitecturalCoreSharing = 1u << 18;
inline constexpr uint32_t kHvUseX2Apic = 1u << 19;
inline constexpr uint32_t kHvRestoreTimeOnResume = 1u << 20;
inline constexpr uint32_t kHvUseHypercallForMmioAccess = 1u << 21;
inline constexpr uint32_t kHvUseGpaPinningHypercall = 1u << 22;
inline constexpr uint32_t kHvWakeVps = 1u << 23;

// 0x40000004 EBX: spinlock retry count; this value means "never notify".
inline constexpr uint32_t kHvSpinlockNeverNotify = 0xFFFFFFFF;
// 0x40000004 ECX [6:0]: implemented physical address bits (newer hosts).
inline constexpr uint32_t kHvPhysicalAddressBitsMask = 0x7F;

// ---- 0x40000006 EAX: hardware features in use by the hypervisor (PROTOCOL §1.7) ----
inline constexpr uint32_t kHvApicOverlayAssistInUse = 1u << 0;
inline constexpr uint32_t kHvMsrBitmapsInUse = 1u << 1;
inline constexpr uint32_t kHvArchitecturalPerformanceCountersInUse = 1u << 2;
inline constexpr uint32_t kHvSecondLevelAddressTranslationInUse = 1u << 3;
inline constexpr uint32_t kHvDmaRemappingInUse = 1u << 4;
inline constexpr uint32_t kHvInterruptRemappingInUse = 1u << 5;
inline constexpr uint32_t kHvMemoryPatrolScrubberPresent = 1u << 6;
inline constexpr uint32_t kHvDmaProtectionInUse = 1u << 7;
inline constexpr uint32_t kHvHpetRequested = 1u << 8;
inline constexpr uint32_t kHvSyntheticTimersVolatile = 1u << 9;
inline constexpr uint32_t kHvHypervisorLevelShift = 10;
inline constexpr uint32_t kHvHypervisorLevelMask = 0xFu << kHvHypervisorLevelShift;  // [13:10]
inline constexpr uint32_t kHvPhysicalDestinationModeRequired = 1u << 14;
inline constexpr uint32_t kHvHardwareMemoryZeroingPresent = 1u << 15;
inline constexpr uint32_t kHvUnrestrictedGuestSupported = 1u << 16;
inline constexpr uint32_t kHvResourceAllocationSupported = 1u << 17;
inline constexpr uint32_t kHvResourceMonitoringSupported = 1u << 18;
inline constexpr uint32_t kHvGuestVirtualPmuSupported = 1u << 19;
inline constexpr uint32_t kHvGuestVirtualLbrSupported = 1u << 20;
inline constexpr uint32_t kHvGuestVirtualIptSupported = 1u << 21;
inline constexpr uint32_t kHvApicEmulationSupported = 1u << 22;
inline constexpr uint32_t kHvAcpiWdatSupported = 1u << 23;

}  // namespace hvsim::hv
