// Hyper-V SynIC and synthetic-timer definitions (TLFS names; definitions only, no behaviour).
//
// Wire layouts of the SynIC message page (HvMessage: 16 slots x 256 bytes), the event-flag page
// (16 bitmaps x 2048 flags), the timer-expired payload, the message types, and the bit fields of
// SCONTROL, SVERSION, SIMP/SIEFP, SINTx and STIMERx_CONFIG. Facts: PROTOCOL.md §2.1, §2.6, §2.7,
// §4.1-§4.3 (TLFS inter-partition-communication.md, timers.md, datatypes/hv_message*.md).
// Omits: MSR numbers (the machine's MSR decoder owns them), the VSM-only SINT fields
// (AsIntercept b19, Proxy b20: stored as RsvdP) and the nested (L1 hypervisor) SynIC registers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hvsim::hv {

constexpr unsigned kHvSintCount = 16;
constexpr unsigned kHvStimerCount = 4;
constexpr size_t kHvSynicPageSize = 4096;
constexpr size_t kHvMessageSlotSize = 256;
constexpr size_t kHvMessagePayloadSize = 240;
constexpr unsigned kHvEventFlagsPerSint = 2048;
constexpr size_t kHvEventFlagsBytesPerSint = kHvEventFlagsPerSint / 8;

// Message types (HV_MESSAGE_TYPE, §4.2). Hypervisor-generated types have b31 set.
constexpr uint32_t HVMSG_NONE = 0x00000000;
constexpr uint32_t HVMSG_UNMAPPED_GPA = 0x80000000;
constexpr uint32_t HVMSG_GPA_INTERCEPT = 0x80000001;
constexpr uint32_t HVMSG_UNACCEPTED_GPA = 0x80000003;
constexpr uint32_t HVMSG_GPA_ATTRIBUTE_INTERCEPT = 0x80000004;
constexpr uint32_t HVMSG_ENABLE_PARTITION_VTL_INTERCEPT = 0x80000005;
constexpr uint32_t HVMSG_TIMER_EXPIRED = 0x80000010;
constexpr uint32_t HVMSG_INVALID_VP_REGISTER_VALUE = 0x80000020;
constexpr uint32_t HVMSG_UNRECOVERABLE_EXCEPTION = 0x80000021;
constexpr uint32_t HVMSG_UNSUPPORTED_FEATURE = 0x80000022;
constexpr uint32_t HVMSG_TLB_PAGE_SIZE_MISMATCH = 0x80000023;
constexpr uint32_t HVMSG_IOMMU_FAULT = 0x80000024;
constexpr uint32_t HVMSG_EVENTLOG_BUFFERCOMPLETE = 0x80000040;
constexpr uint32_t HVMSG_HYPERCALL_INTERCEPT = 0x80000050;
constexpr uint32_t HVMSG_SYNIC_EVENT_INTERCEPT = 0x80000060;
constexpr uint32_t HVMSG_SYNIC_SINT_INTERCEPT = 0x80000061;
constexpr uint32_t HVMSG_SYNIC_SINT_DELIVERABLE = 0x80000062;
constexpr uint32_t HVMSG_ASYNC_CALL_COMPLETION = 0x80000070;
constexpr uint32_t HVMSG_X64_IO_PORT_INTERCEPT = 0x80010000;
constexpr uint32_t HVMSG_X64_MSR_INTERCEPT = 0x80010001;
constexpr uint32_t HVMSG_X64_CPUID_INTERCEPT = 0x80010002;
constexpr uint32_t HVMSG_X64_EXCEPTION_INTERCEPT = 0x80010003;
constexpr uint32_t HVMSG_X64_APIC_EOI = 0x80010004;
constexpr uint32_t HVMSG_X64_LEGACY_FP_ERROR = 0x80010005;
constexpr uint32_t HVMSG_X64_REGISTER_INTERCEPT = 0x80010006;
constexpr uint32_t HVMSG_X64_HALT = 0x80010007;
constexpr uint32_t HVMSG_X64_INTERRUPTION_DELIVERABLE = 0x80010008;
constexpr uint32_t HVMSG_X64_SIPI_INTERCEPT = 0x80010009;

// HvMessageHeader.message_flags
constexpr uint8_t kHvMessageFlagPending = 0x01;  // b0 msg_pending: more messages wait, write EOM

struct HvMessageHeader {
  uint32_t message_type;  // HVMSG_*; HVMSG_NONE = slot empty
  uint8_t payload_size;   // bytes, <= kHvMessagePayloadSize
  uint8_t message_flags;  // kHvMessageFlagPending
  uint16_t reserved;
  uint64_t sender;        // origination id: sender partition id or port id
};
static_assert(sizeof(HvMessageHeader) == 16);

struct HvMessage {
  HvMessageHeader header;
  uint8_t payload[kHvMessagePayloadSize];
};
static_assert(sizeof(HvMessage) == kHvMessageSlotSize);

// The SIM page: slot n belongs to SINTn.
struct HvMessagePage {
  HvMessage slot[kHvSintCount];
};
static_assert(sizeof(HvMessagePage) == kHvSynicPageSize);

// HVMSG_TIMER_EXPIRED payload (payload_size 24). Times in 100 ns reference-time units.
struct HvTimerMessagePayload {
  uint32_t timer_index;      // 0..3
  uint32_t reserved;
  uint64_t expiration_time;  // reference time the timer was due
  uint64_t delivery_time;    // reference time the message was put into the slot
};
static_assert(sizeof(HvTimerMessagePayload) == 24);

// One SINT's event flags: flag k = byte k/8, bit k%8.
struct HvSynicEventFlags {
  uint8_t flags[kHvEventFlagsBytesPerSint];
};
static_assert(sizeof(HvSynicEventFlags) == 256);

// The SIEF page: bitmap n belongs to SINTn.
struct HvSynicEventFlagsPage {
  HvSynicEventFlags sint[kHvSintCount];
};
static_assert(sizeof(HvSynicEventFlagsPage) == kHvSynicPageSize);

// SCONTROL: b0 enable, 63:1 RsvdP.
constexpr uint64_t kHvScontrolEnable = 1ull << 0;
// SVERSION: read-only, SynIC version 1.
constexpr uint64_t kHvSynicVersion = 1;
// SIMP / SIEFP: b0 enable, 11:1 RsvdP, 63:12 GPA of the page.
constexpr uint64_t kHvSynicPageEnable = 1ull << 0;
constexpr uint64_t kHvSynicPageGpaMask = ~0xFFFull;

// SINTx: 7:0 vector, b16 masked, b17 auto-EOI, b18 polling, the rest RsvdP.
constexpr uint64_t kHvSintVectorMask = 0xFF;
constexpr uint64_t kHvSintMasked = 1ull << 16;
constexpr uint64_t kHvSintAutoEoi = 1ull << 17;
constexpr uint64_t kHvSintPolling = 1ull << 18;
constexpr uint64_t kHvSintReset = kHvSintMasked;  // 0x10000: masked, vector 0
constexpr unsigned kHvFirstValidVector = 16;      // vectors 16..255 are valid

// STIMERx_CONFIG.
constexpr uint64_t kHvStimerEnable = 1ull << 0;
constexpr uint64_t kHvStimerPeriodic = 1ull << 1;
constexpr uint64_t kHvStimerLazy = 1ull << 2;
constexpr uint64_t kHvStimerAutoEnable = 1ull << 3;
constexpr unsigned kHvStimerApicVectorShift = 4;
constexpr uint64_t kHvStimerApicVectorMask = 0xFFull << kHvStimerApicVectorShift;  // 11:4
constexpr uint64_t kHvStimerDirectMode = 1ull << 12;
constexpr unsigned kHvStimerSintShift = 16;
constexpr uint64_t kHvStimerSintMask = 0xFull << kHvStimerSintShift;  // 19:16
// 15:13 and 63:20 are RsvdZ: setting any of them is #GP.
constexpr uint64_t kHvStimerReservedMask = ~(0x1FFFull | kHvStimerSintMask);

}  // namespace hvsim::hv
