// Hyper-V hypercall ABI definitions: call codes, HV_STATUS codes, the hypercall input value
// (control word) and result value layouts, and the input/output blocks of the hypercalls hvsim
// implements (PROTOCOL.md §3.1, §3.5, §3.6, §3.6.1, §3.6.2; TLFS hypercall-interface.md,
// hypercalls/*.md, datatypes/hv_vp_set.md; Linux include/hyperv/hvgdk_mini.h).
// Definitions only. Every block is little-endian and naturally aligned (no packing needed); each
// struct is followed by its size check. Omitted: VSM/VTL, root-partition and nested calls.
#pragma once

#include <cstdint>

namespace hvsim::hv {

// ---- Call codes (§3.6) --------------------------------------------------------------------------
constexpr uint16_t HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE = 0x0002;
constexpr uint16_t HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST = 0x0003;
constexpr uint16_t HVCALL_NOTIFY_LONG_SPIN_WAIT = 0x0008;
constexpr uint16_t HVCALL_SEND_SYNTHETIC_CLUSTER_IPI = 0x000b;
constexpr uint16_t HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX = 0x0013;
constexpr uint16_t HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX = 0x0014;
constexpr uint16_t HVCALL_SEND_SYNTHETIC_CLUSTER_IPI_EX = 0x0015;
constexpr uint16_t HVCALL_GET_VP_REGISTERS = 0x0050;
constexpr uint16_t HVCALL_SET_VP_REGISTERS = 0x0051;
constexpr uint16_t HVCALL_POST_MESSAGE = 0x005c;
constexpr uint16_t HVCALL_SIGNAL_EVENT = 0x005d;
constexpr uint16_t HVCALL_POST_DEBUG_DATA = 0x0069;
constexpr uint16_t HVCALL_RETRIEVE_DEBUG_DATA = 0x006a;
constexpr uint16_t HVCALL_RESET_DEBUG_SESSION = 0x006b;

// ---- HV_STATUS (§3.5; 0x0001 and 0x000F are unused) ------------------------------------------------
constexpr uint16_t HV_STATUS_SUCCESS = 0x0000;
constexpr uint16_t HV_STATUS_INVALID_HYPERCALL_CODE = 0x0002;
constexpr uint16_t HV_STATUS_INVALID_HYPERCALL_INPUT = 0x0003;
constexpr uint16_t HV_STATUS_INVALID_ALIGNMENT = 0x0004;
constexpr uint16_t HV_STATUS_INVALID_PARAMETER = 0x0005;
constexpr uint16_t HV_STATUS_ACCESS_DENIED = 0x0006;
constexpr uint16_t HV_STATUS_INVALID_PARTITION_STATE = 0x0007;
constexpr uint16_t HV_STATUS_OPERATION_DENIED = 0x0008;
constexpr uint16_t HV_STATUS_UNKNOWN_PROPERTY = 0x0009;
constexpr uint16_t HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE = 0x000a;
constexpr uint16_t HV_STATUS_INSUFFICIENT_MEMORY = 0x000b;
constexpr uint16_t HV_STATUS_PARTITION_TOO_DEEP = 0x000c;
constexpr uint16_t HV_STATUS_INVALID_PARTITION_ID = 0x000d;
constexpr uint16_t HV_STATUS_INVALID_VP_INDEX = 0x000e;
constexpr uint16_t HV_STATUS_NOT_FOUND = 0x0010;
constexpr uint16_t HV_STATUS_INVALID_PORT_ID = 0x0011;
constexpr uint16_t HV_STATUS_INVALID_CONNECTION_ID = 0x0012;
constexpr uint16_t HV_STATUS_INSUFFICIENT_BUFFERS = 0x0013;
constexpr uint16_t HV_STATUS_NOT_ACKNOWLEDGED = 0x0014;
constexpr uint16_t HV_STATUS_INVALID_VP_STATE = 0x0015;
constexpr uint16_t HV_STATUS_ACKNOWLEDGED = 0x0016;
constexpr uint16_t HV_STATUS_INVALID_SAVE_RESTORE_STATE = 0x0017;
constexpr uint16_t HV_STATUS_INVALID_SYNIC_STATE = 0x0018;
constexpr uint16_t HV_STATUS_OBJECT_IN_USE = 0x0019;
constexpr uint16_t HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO = 0x001a;
constexpr uint16_t HV_STATUS_NO_DATA = 0x001b;
constexpr uint16_t HV_STATUS_INACTIVE = 0x001c;
constexpr uint16_t HV_STATUS_NO_RESOURCES = 0x001d;
constexpr uint16_t HV_STATUS_FEATURE_UNAVAILABLE = 0x001e;
constexpr uint16_t HV_STATUS_PARTIAL_PACKET = 0x001f;
constexpr uint16_t HV_STATUS_PROCESSOR_FEATURE_NOT_SUPPORTED = 0x0020;
constexpr uint16_t HV_STATUS_PROCESSOR_CACHE_LINE_FLUSH_SIZE_INCOMPATIBLE = 0x0030;
constexpr uint16_t HV_STATUS_INSUFFICIENT_BUFFER = 0x0033;
constexpr uint16_t HV_STATUS_INCOMPATIBLE_PROCESSOR = 0x0037;
constexpr uint16_t HV_STATUS_INSUFFICIENT_DEVICE_DOMAINS = 0x0038;
constexpr uint16_t HV_STATUS_CPUID_FEATURE_VALIDATION_ERROR = 0x003c;
constexpr uint16_t HV_STATUS_CPUID_XSAVE_FEATURE_VALIDATION_ERROR = 0x003d;
constexpr uint16_t HV_STATUS_PROCESSOR_STARTUP_TIMEOUT = 0x003e;
constexpr uint16_t HV_STATUS_SMX_ENABLED = 0x003f;
constexpr uint16_t HV_STATUS_INVALID_LP_INDEX = 0x0041;
constexpr uint16_t HV_STATUS_INVALID_REGISTER_VALUE = 0x0050;
constexpr uint16_t HV_STATUS_INVALID_VTL_STATE = 0x0051;
constexpr uint16_t HV_STATUS_NX_NOT_DETECTED = 0x0055;
constexpr uint16_t HV_STATUS_INVALID_DEVICE_ID = 0x0057;
constexpr uint16_t HV_STATUS_INVALID_DEVICE_STATE = 0x0058;
constexpr uint16_t HV_STATUS_PENDING_PAGE_REQUESTS = 0x0059;
constexpr uint16_t HV_STATUS_PAGE_REQUEST_INVALID = 0x0060;
constexpr uint16_t HV_STATUS_KEY_ALREADY_EXISTS = 0x0065;
constexpr uint16_t HV_STATUS_DEVICE_ALREADY_IN_DOMAIN = 0x0066;
constexpr uint16_t HV_STATUS_INVALID_CPU_GROUP_ID = 0x006f;
constexpr uint16_t HV_STATUS_INVALID_CPU_GROUP_STATE = 0x0070;
constexpr uint16_t HV_STATUS_OPERATION_FAILED = 0x0071;
constexpr uint16_t HV_STATUS_NOT_ALLOWED_WITH_NESTED_VIRT_ACTIVE = 0x0072;
constexpr uint16_t HV_STATUS_INSUFFICIENT_ROOT_MEMORY = 0x0073;
constexpr uint16_t HV_STATUS_EVENT_BUFFER_ALREADY_FREED = 0x0074;
constexpr uint16_t HV_STATUS_TIME_OUT = 0x0078;
constexpr uint16_t HV_STATUS_CALL_PENDING = 0x0079;
constexpr uint16_t HV_STATUS_VTL_ALREADY_ENABLED = 0x0086;
constexpr uint16_t HV_STATUS_UNKNOWN_REGISTER_NAME = 0x0087;

// ---- Hypercall input value, "control word" (§3.1) -----------------------------------------------
// [15:0] code, b16 fast, [26:17] variable header size (qwords), [30:27] RsvdZ, b31 is-nested,
// [43:32] rep count, [47:44] RsvdZ, [59:48] rep start index, [63:60] RsvdZ.
constexpr uint64_t HV_HYPERCALL_CODE_MASK = 0xffffull;
constexpr uint64_t HV_HYPERCALL_FAST_BIT = 1ull << 16;
constexpr unsigned HV_HYPERCALL_VARHEAD_OFFSET = 17;
constexpr uint64_t HV_HYPERCALL_VARHEAD_MASK = 0x3ffull << HV_HYPERCALL_VARHEAD_OFFSET;
constexpr uint64_t HV_HYPERCALL_NESTED = 1ull << 31;
constexpr unsigned HV_HYPERCALL_REP_COMP_OFFSET = 32;
constexpr uint64_t HV_HYPERCALL_REP_COMP_MASK = 0xfffull << HV_HYPERCALL_REP_COMP_OFFSET;
constexpr unsigned HV_HYPERCALL_REP_START_OFFSET = 48;
constexpr uint64_t HV_HYPERCALL_REP_START_MASK = 0xfffull << HV_HYPERCALL_REP_START_OFFSET;
// RsvdZ: [30:27], [47:44], [63:60]. hvsim is never nested, so b31 is checked with them.
constexpr uint64_t HV_HYPERCALL_RSVD_MASK = (0xfull << 27) | (0xfull << 44) | (0xfull << 60);

// ---- Hypercall result value (§3.1): [15:0] status, [31:16] RsvdZ, [43:32] reps completed -------
constexpr uint64_t HV_HYPERCALL_RESULT_MASK = 0xffffull;
constexpr uint64_t hv_hypercall_result(uint16_t status, uint32_t reps_completed) {
  return status | (static_cast<uint64_t>(reps_completed & 0xfff) << HV_HYPERCALL_REP_COMP_OFFSET);
}

constexpr uint64_t HV_HYP_PAGE_SIZE = 4096;
constexpr uint64_t HV_PARTITION_ID_SELF = ~0ull;
constexpr uint32_t HV_VP_INDEX_SELF = 0xfffffffe;

// HV_INPUT_VTL (one byte): [3:0] target VTL, b4 use target VTL, [7:5] reserved. hvsim has VTL 0 only.
constexpr uint8_t HV_INPUT_VTL_TARGET_MASK = 0x0f;
constexpr uint8_t HV_INPUT_VTL_USE_TARGET = 0x10;
constexpr uint8_t HV_INPUT_VTL_RSVD_MASK = 0xe0;

// ---- HvCallPostMessage / HvCallSignalEvent (§3.6, §4.5) ---------------------------------------
constexpr uint32_t HV_MESSAGE_PAYLOAD_BYTE_COUNT = 240;
constexpr uint32_t HV_CONNECTION_ID_MASK = 0x00ffffff;  // HV_CONNECTION_ID: Id:24, Reserved:8
constexpr uint32_t HV_MESSAGE_TYPE_HYPERVISOR_BIT = 0x80000000;  // types with b31 set belong to the hypervisor
constexpr uint32_t HV_EVENT_FLAGS_COUNT = 256 * 8;  // flags per SINT in the SIEF page (§4.3)

struct HvPostMessageInput {
  uint32_t connection_id;
  uint32_t reserved;
  uint32_t message_type;
  uint32_t payload_size;
  uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
};
static_assert(sizeof(HvPostMessageInput) == 256);

struct HvSignalEventInput {
  uint32_t connection_id;
  uint16_t flag_number;
  uint16_t reserved;
};
static_assert(sizeof(HvSignalEventInput) == 8);

struct HvNotifyLongSpinWaitInput {
  uint32_t spin_count;
  uint32_t reserved;
};
static_assert(sizeof(HvNotifyLongSpinWaitInput) == 8);

// ---- Sparse VP set, HV_VP_SET (§3.6.2) -----------------------------------------------------------
constexpr uint64_t HV_GENERIC_SET_SPARSE_4K = 0;
constexpr uint64_t HV_GENERIC_SET_ALL = 1;
constexpr uint32_t HV_VP_SET_BANK_COUNT_MAX = 64;  // 64 banks x 64 VPs = 4096 VPs

// The fixed part; valid_bank_mask's population count of u64 banks follows (the variable header).
struct HvVpSet {
  uint64_t format;
  uint64_t valid_bank_mask;
};
static_assert(sizeof(HvVpSet) == 16);

// ---- TLB flushes (§3.6, §3.6.1) -------------------------------------------------------------------
constexpr uint64_t HV_FLUSH_ALL_PROCESSORS = 1ull << 0;
constexpr uint64_t HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES = 1ull << 1;
constexpr uint64_t HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY = 1ull << 2;
constexpr uint64_t HV_FLUSH_USE_EXTENDED_RANGE_FORMAT = 1ull << 3;  // needs CPUID 0x40000003 EDX b14
// GVA list element: [63:12] GVA page number, [11:0] additional pages (0 = one page).
constexpr uint64_t HV_GVA_PAGE_NUMBER_MASK = ~0xfffull;
constexpr uint64_t HV_GVA_ADDITIONAL_PAGES_MASK = 0xfffull;

struct HvFlushVirtualAddressSpaceInput {  // also the header of HvCallFlushVirtualAddressList
  uint64_t address_space;
  uint64_t flags;
  uint64_t processor_mask;
};
static_assert(sizeof(HvFlushVirtualAddressSpaceInput) == 24);

struct HvFlushVirtualAddressSpaceExInput {  // also the header of ...ListEx; banks, then GVAs, follow
  uint64_t address_space;
  uint64_t flags;
  HvVpSet vp_set;
};
static_assert(sizeof(HvFlushVirtualAddressSpaceExInput) == 32);

// ---- Cluster IPIs (§3.6; vector 0x10..0xFF) ----------------------------------------------------------
constexpr uint32_t HV_IPI_LOW_VECTOR = 0x10;
constexpr uint32_t HV_IPI_HIGH_VECTOR = 0xff;

struct HvSendSyntheticClusterIpiInput {
  uint32_t vector;
  uint8_t target_vtl;  // HV_INPUT_VTL
  uint8_t reserved[3];
  uint64_t processor_mask;
};
static_assert(sizeof(HvSendSyntheticClusterIpiInput) == 16);

struct HvSendSyntheticClusterIpiExInput {  // banks follow (the variable header)
  uint32_t vector;
  uint8_t target_vtl;
  uint8_t reserved[3];
  HvVpSet vp_set;
};
static_assert(sizeof(HvSendSyntheticClusterIpiExInput) == 24);

// ---- HvCallGetVpRegisters / HvCallSetVpRegisters (§3.6, §2.10) -----------------------------------
struct HvGetSetVpRegistersInput {  // header; rep elements follow at offset 16
  uint64_t partition_id;
  uint32_t vp_index;
  uint8_t input_vtl;  // HV_INPUT_VTL
  uint8_t reserved[3];
};
static_assert(sizeof(HvGetSetVpRegistersInput) == 16);

// Get: input element = u32 register name; output element = 128-bit value.
struct HvRegisterValue {
  uint64_t low;
  uint64_t high;
};
static_assert(sizeof(HvRegisterValue) == 16);

// Set: input element.
struct HvRegisterAssoc {
  uint32_t name;
  uint32_t reserved1;
  uint64_t reserved2;
  HvRegisterValue value;
};
static_assert(sizeof(HvRegisterAssoc) == 32);

// Register names (HV_REGISTER_NAME) a target may support; the target decides which.
constexpr uint32_t HV_REGISTER_GUEST_CRASH_P0 = 0x00000210;
constexpr uint32_t HV_REGISTER_GUEST_CRASH_P4 = 0x00000214;
constexpr uint32_t HV_REGISTER_GUEST_CRASH_CTL = 0x00000215;
constexpr uint32_t HV_REGISTER_VP_RUNTIME = 0x00090000;
constexpr uint32_t HV_REGISTER_GUEST_OS_ID = 0x00090002;
constexpr uint32_t HV_REGISTER_VP_INDEX = 0x00090003;
constexpr uint32_t HV_REGISTER_TIME_REF_COUNT = 0x00090004;
constexpr uint32_t HV_REGISTER_VP_ASSIST_PAGE = 0x00090013;
constexpr uint32_t HV_REGISTER_REFERENCE_TSC = 0x00090017;
constexpr uint32_t HV_REGISTER_SINT0 = 0x000a0000;
constexpr uint32_t HV_REGISTER_SINT15 = 0x000a000f;
constexpr uint32_t HV_REGISTER_SCONTROL = 0x000a0010;
constexpr uint32_t HV_REGISTER_SVERSION = 0x000a0011;
constexpr uint32_t HV_REGISTER_SIEFP = 0x000a0012;
constexpr uint32_t HV_REGISTER_SIMP = 0x000a0013;
constexpr uint32_t HV_REGISTER_EOM = 0x000a0014;
constexpr uint32_t HV_REGISTER_STIMER0_CONFIG = 0x000b0000;  // STIMERn_CONFIG = +2n
constexpr uint32_t HV_REGISTER_STIMER0_COUNT = 0x000b0001;   // STIMERn_COUNT = +2n

// ---- Synthetic debugger transport (§3.6: 0x69-0x6B, QEMU syndbg layout) ---------------------------
struct HvPostDebugDataInput {  // `count` data bytes follow, up to the end of the input page
  uint32_t count;
  uint32_t options;
};
static_assert(sizeof(HvPostDebugDataInput) == 8);

struct HvPostDebugDataOutput {
  uint32_t pending_count;
  uint32_t reserved;
};
static_assert(sizeof(HvPostDebugDataOutput) == 8);

struct HvRetrieveDebugDataInput {
  uint32_t count;
  uint32_t options;
  uint64_t timeout;  // 100 ns units
};
static_assert(sizeof(HvRetrieveDebugDataInput) == 16);

struct HvRetrieveDebugDataOutput {  // retrieved_count data bytes follow
  uint32_t retrieved_count;
  uint32_t remaining_count;
};
static_assert(sizeof(HvRetrieveDebugDataOutput) == 8);

struct HvResetDebugSessionInput {
  uint32_t options;
  uint32_t reserved;
};
static_assert(sizeof(HvResetDebugSessionInput) == 8);

struct HvResetDebugSessionOutput {
  uint32_t host_ip;
  uint32_t target_ip;
  uint16_t host_port;
  uint16_t target_port;
  uint8_t host_mac[6];
  uint8_t target_mac[6];
};
static_assert(sizeof(HvResetDebugSessionOutput) == 24);

}  // namespace hvsim::hv
