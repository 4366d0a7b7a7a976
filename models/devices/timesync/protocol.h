// Time synchronization IC wire format (PROTOCOL.md §7.4): the two body layouts after the 28-byte
// IC headers, the flags and the message versions the host offers. Definitions only. Facts:
// Linux include/linux/hyperv.h (ictimesync_data, ictimesync_ref_data, ICTIMESYNCFLAG_*),
// drivers/hv/hv_util.c (ts_versions; the 4.0 layout is used when message version 4.0 is chosen).
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/devices/ic/protocol.h"

namespace hvsim::devices::timesync {

#pragma pack(push, 1)
// Message versions below 4.0.
struct IctimesyncData {
  uint64_t parenttime;  // host time, 100 ns since 1601-01-01 UTC
  uint64_t childtime;
  uint64_t roundtriptime;
  uint8_t flags;  // kFlag*
};
// Message version 4.0.
struct IctimesyncRefData {
  uint64_t parenttime;
  uint64_t vmreferencetime;  // partition reference time when parenttime was sampled
  uint8_t flags;
  uint8_t leapflags;
  uint8_t stratum;
  uint8_t reserved[3];
};
#pragma pack(pop)
static_assert(sizeof(IctimesyncData) == 25);
static_assert(offsetof(IctimesyncData, flags) == 24);
static_assert(sizeof(IctimesyncRefData) == 22);
static_assert(offsetof(IctimesyncRefData, flags) == 16);

constexpr uint8_t kFlagProbe = 0;
constexpr uint8_t kFlagSync = 1;    // step the clock (boot, resume)
constexpr uint8_t kFlagSample = 2;  // periodic discipline

// Message versions offered, highest first; a major of kRefDataMajor or more selects
// IctimesyncRefData.
constexpr ic::IcVersion kMessageVersions[] = {{4, 0}, {3, 0}, {1, 0}};
constexpr uint16_t kRefDataMajor = 4;

}  // namespace hvsim::devices::timesync
