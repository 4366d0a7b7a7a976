#include "models/hv/host_profile.h"

#include <array>
#include <string>

#include "sim/core/status.h"

namespace hvsim::hv {
namespace {

constexpr uint32_t vmbus_version(uint32_t major, uint32_t minor) { return major << 16 | minor; }

// VMBus versions per release (PROTOCOL §5.2): 0.13 = WS2008, 1.1 = WS2008 R2 (Win7), 2.4 = WS2012,
// 3.0 = WS2012 R2, 4.0 = WS2016 (inferred there from Linux's netvsc "pre-Win2016" comment), 4.1 =
// RS3, 5.0 = later Windows 10, 5.1 = RS4, 5.2 = WS2019 (RS5), 5.3 = WS2022 (Iron). Each host also
// accepts every older version down to 0.13.
// DEVNOTE (assumption): that newer hosts still accept 1.1 and 0.13 is not documented publicly;
// hvsim follows QEMU's VMBus host, which implements both next to 2.4+ (with the shared interrupt
// page, §5.9), and guests written for the old versions (older Linux, other OSes' drivers that
// speak only 1.1 and 0.13) then connect to every profile. Linux today negotiates >= 2.4 only.
// DEVNOTE (assumption, PROTOCOL §11 says which release first offered 6.0 is not verified): 6.0 is
// "Copper", and WS2025 (build 26100, "Germanium") comes after Copper in Microsoft's release
// naming, so ws2025 offers 6.0.
// Its 6.0 features are the "Copper" set that Microsoft's UEFI VMBus client header names
// (VMBUS_SUPPORTED_FEATURE_FLAGS_COPPER in mu_msvm: guest-specified signal parameters, channel
// interrupt redirection, modify connection); client id came with the next release, and
// confidential channels are a paravisor's, not the root host's. OpenHCL, a client of the root
// host, uses OpenChannel2 with both of the first two.
constexpr uint32_t kCopperFeatures = 0x1 | 0x2 | 0x4;
constexpr uint32_t kWin7 = vmbus_version(1, 1), kWs2008 = vmbus_version(0, 13);
constexpr std::array<uint32_t, 3> kWs2012Vmbus = {vmbus_version(2, 4), kWin7, kWs2008};
constexpr std::array<uint32_t, 4> kWs2012R2Vmbus = {vmbus_version(3, 0), vmbus_version(2, 4), kWin7, kWs2008};
constexpr std::array<uint32_t, 5> kWs2016Vmbus = {vmbus_version(4, 0), vmbus_version(3, 0), vmbus_version(2, 4),
                                                  kWin7, kWs2008};
constexpr std::array<uint32_t, 9> kWs2019Vmbus = {
    vmbus_version(5, 2), vmbus_version(5, 1), vmbus_version(5, 0), vmbus_version(4, 1), vmbus_version(4, 0),
    vmbus_version(3, 0), vmbus_version(2, 4), kWin7, kWs2008};
constexpr std::array<uint32_t, 10> kWs2022Vmbus = {
    vmbus_version(5, 3), vmbus_version(5, 2), vmbus_version(5, 1), vmbus_version(5, 0), vmbus_version(4, 1),
    vmbus_version(4, 0), vmbus_version(3, 0), vmbus_version(2, 4), kWin7, kWs2008};
constexpr std::array<uint32_t, 11> kWs2025Vmbus = {
    vmbus_version(6, 0), vmbus_version(5, 3), vmbus_version(5, 2), vmbus_version(5, 1), vmbus_version(5, 0),
    vmbus_version(4, 1), vmbus_version(4, 0), vmbus_version(3, 0), vmbus_version(2, 4), kWin7, kWs2008};

// Aggregate GPADL cap (PROTOCOL §5.10, from Linux Documentation/virt/hyperv/vmbus.rst): "about
// 1280 MB" on WS2019 and later, "about 384 MB" before; taken here as exact MiB.
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGpadlCapBeforeWs2019 = 384 * kMiB;
constexpr uint64_t kGpadlCapWs2019 = 1280 * kMiB;

// Versions: the releases' RTM build numbers (6.2.9200, 6.3.9600, 10.0.14393, 10.0.17763,
// 10.0.20348, 10.0.26100), no service pack, branch or number.
// tsc_invariant_control (assumption): Linux's support for AccessTscInvariantControls (2019) says
// only that hosts with TSC scaling and a recent enough VM configuration version set the bit; no
// public source names the first release, so hvsim offers it from WS2022 on.
// tsc_scaling (assumption): no public source in PROTOCOL.md; taken as available from WS2016 on.
constexpr std::array<HostProfile, 6> kProfiles = {{
    {"ws2012", "Windows Server 2012", {9200, 6, 2, 0, 0, 0}, kWs2012Vmbus, kGpadlCapBeforeWs2019,
     false, false},
    {"ws2012r2", "Windows Server 2012 R2", {9600, 6, 3, 0, 0, 0}, kWs2012R2Vmbus,
     kGpadlCapBeforeWs2019, false, false},
    {"ws2016", "Windows Server 2016", {14393, 10, 0, 0, 0, 0}, kWs2016Vmbus, kGpadlCapBeforeWs2019,
     false, true},
    {"ws2019", "Windows Server 2019", {17763, 10, 0, 0, 0, 0}, kWs2019Vmbus, kGpadlCapWs2019, false,
     true},
    {"ws2022", "Windows Server 2022", {20348, 10, 0, 0, 0, 0}, kWs2022Vmbus, kGpadlCapWs2019, true,
     true},
    {"ws2025", "Windows Server 2025", {26100, 10, 0, 0, 0, 0}, kWs2025Vmbus, kGpadlCapWs2019, true,
     true, kCopperFeatures},
}};

constexpr size_t kDefaultProfile = 3;  // ws2019
static_assert(kProfiles[kDefaultProfile].name == "ws2019");

}  // namespace

const HostProfile& host_profile(std::string_view name) {
  for (const HostProfile& p : kProfiles) {
    if (p.name == name) return p;
  }
  std::string valid;
  for (const HostProfile& p : kProfiles) valid += (valid.empty() ? "" : ", ") + std::string(p.name);
  throw UsageError("unknown host profile '" + std::string(name) + "' (valid: " + valid + ")");
}

const HostProfile& default_host_profile() { return kProfiles[kDefaultProfile]; }

}  // namespace hvsim::hv
