// A HypercallTarget for unit tests of the hypercall dispatcher and handlers: records every host
// effect (posted messages, signalled events, IPIs, TLB flushes, long spin waits, register writes)
// and answers with `next_status` (PostMessage, SignalEvent, SetVpRegisters). Get/SetVpRegisters
// treat register name 0 as unknown (nullopt / HV_STATUS_INVALID_PARAMETER); any other name reads
// (vp << 32) | name. `vps` is the partition's VP count.
#pragma once

#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "models/hv/hypercall/handlers.h"

namespace hvsim::test {

class RecordingHypercallTarget final : public hv::HypercallTarget {
 public:
  struct Post {
    hv::VpIndex vp;
    uint32_t conn, type;
    std::vector<uint8_t> payload;
  };

  uint16_t post_message(hv::VpIndex vp, uint32_t conn, uint32_t type, const uint8_t* payload, uint32_t size) override {
    posts.push_back({vp, conn, type, std::vector<uint8_t>(payload, payload + size)});
    return next_status;
  }
  uint16_t signal_event(hv::VpIndex vp, uint32_t conn, uint16_t flag) override {
    signals.emplace_back(vp, conn, flag);
    return next_status;
  }
  uint32_t vp_count() const override { return vps; }
  void send_ipi(hv::VpIndex vp, uint8_t vector) override { ipis.emplace_back(vp, vector); }
  void flush_tlb(hv::VpIndex vp) override { flushes.push_back(vp); }
  void notify_long_spin_wait(hv::VpIndex vp, uint32_t count) override { spins.emplace_back(vp, count); }
  std::optional<uint64_t> get_vp_register(hv::VpIndex vp, uint32_t name) override {
    if (name == 0) return std::nullopt;
    return uint64_t{vp} << 32 | name;
  }
  uint16_t set_vp_register(hv::VpIndex vp, uint32_t name, uint64_t value) override {
    if (name == 0) return hv::HV_STATUS_INVALID_PARAMETER;
    sets.emplace_back(vp, name, value);
    return next_status;
  }

  uint32_t vps = 4;
  uint16_t next_status = hv::HV_STATUS_SUCCESS;
  std::vector<Post> posts;
  std::vector<std::tuple<hv::VpIndex, uint32_t, uint16_t>> signals;
  std::vector<std::pair<hv::VpIndex, uint8_t>> ipis;
  std::vector<hv::VpIndex> flushes;
  std::vector<std::pair<hv::VpIndex, uint32_t>> spins;
  std::vector<std::tuple<hv::VpIndex, uint32_t, uint64_t>> sets;
};

}  // namespace hvsim::test
