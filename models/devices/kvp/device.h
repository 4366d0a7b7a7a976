// The KVP (data exchange) integration component (PROTOCOL.md §7, class GUID kKvpClass): the
// host side of Hyper-V's key-value pair exchange.
//
// Negotiates framework {3.0, 1.0} and message {4.0, 3.0, 1.0}. request() queues a request —
// GET, SET, DELETE or ENUMERATE on a pool, or GET_IP_INFO for an adapter — at most kMaxPending
// waiting; they are sent in order, one at a time (the next once the guest answered, or the
// `timeout` passed: "kvp.timeout", the request is forgotten), from the first poll once
// negotiated. Keys and values are given as UTF-8 and sent as NUL-terminated UTF-16LE with their
// byte sizes (key 2..512 bytes, REG_SZ value 2..2048), REG_U32 / REG_U64 values as 4 / 8 bytes.
// An ENUMERATE without an index walks the pool: index 0, 1, ... while the guest answers S_OK,
// ahead of other queued requests, ending with "kvp.enumerated" (at most kMaxWalk entries).
// GET_IP_INFO needs message version 4.0; below it the request is dropped with "kvp.refused".
// Each reply is validated (length = the request's, operation / pool / index echoed, sizes within
// the limits, value type, NUL-terminated well-formed UTF-16): a bad one is "kvp.bad_reply"
// {op, trans_id, reason}, ends the transaction and never throws. Queued requests survive a channel
// close; the one in flight does not. Traces "kvp.request", "kvp.reply", "kvp.enumerated",
// "kvp.bad_reply", "kvp.timeout", "kvp.refused" (README.md lists their fields).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "models/devices/ic/ic.h"
#include "models/devices/kvp/protocol.h"

namespace hvsim::devices {

namespace kvp {

// Lengths in UTF-16 code units, NUL terminator excluded.
constexpr size_t kMaxKeyUnits = kMaxKeySize / 2 - 1;         // 255
constexpr size_t kMaxValueUnits = kMaxValueSize / 2 - 1;     // 1023
constexpr size_t kMaxAdapterIdUnits = kAdapterIdUnits - 1;   // 127

// UTF-8 to UTF-16 code units; nullopt if `utf8` is not well-formed UTF-8 (overlong forms,
// surrogate code points and values above U+10FFFF are not).
std::optional<std::u16string> to_utf16(std::string_view utf8);
// UTF-16 to UTF-8; nullopt on an unpaired surrogate.
std::optional<std::string> to_utf8(std::u16string_view utf16);

// "get", "set", "delete", "enumerate", "get_ip_info" ("?" for others).
const char* op_name(uint8_t op);
// "external", "guest", "auto", "auto_external", "auto_internal" ("?" for others).
const char* pool_name(uint8_t pool);
// "string", "u32", "u64" ("?" for others).
const char* value_type_name(uint32_t type);

}  // namespace kvp

// One request as the API and scenarios give it.
struct KvpRequest {
  uint8_t op = kvp::kOpGet;           // kvp::kOp*
  uint8_t pool = kvp::kPoolExternal;  // not GET_IP_INFO (sent with pool "guest")
  std::string key;                    // GET, SET, DELETE: UTF-8, 1..kMaxKeyUnits UTF-16 units
  uint32_t value_type = kvp::kRegSz;  // SET: kRegSz, kRegU32 or kRegU64
  std::string value;                  // SET kRegSz: UTF-8, up to kMaxValueUnits UTF-16 units
  uint64_t number = 0;                // SET kRegU32 (<= UINT32_MAX) / kRegU64
  std::optional<uint32_t> index;      // ENUMERATE: this index; nullopt: walk the pool
  std::string adapter_id;             // GET_IP_INFO: UTF-8, up to kMaxAdapterIdUnits units
};

// Why `r` cannot be sent, naming the field ("key: ..."); "" when it can.
std::string check_kvp_request(const KvpRequest& r);

struct KvpParams {
  VirtualTime timeout = VirtualTime::from_ms(5000);  // `timeout`: wait for a reply (> 0)
};

class KvpDevice final : public ic::IcDevice {
 public:
  static constexpr size_t kMaxPending = 64;
  static constexpr uint32_t kMaxWalk = 1024;

  explicit KvpDevice(vmbus::DeviceDesc desc, KvpParams params = {});

  // Queues `r`; false if it is invalid (check_kvp_request) or kMaxPending requests wait already.
  // The host polls the device afterwards (it sends from poll()).
  bool request(const KvpRequest& r);
  size_t pending() const { return pending_.size(); }
  bool busy() const { return in_flight_.has_value(); }

 private:
  // A queued request; a pool walk carries the index it sends next.
  struct Queued {
    KvpRequest req;
    uint32_t walk_index = 0;
  };
  struct InFlight {
    Queued q;
    uint32_t index = 0;  // ENUMERATE: the index sent
    uint64_t trans_id = 0;
    size_t size = 0;     // body bytes sent: the reply must have as many
    VirtualTime deadline;
  };

  void on_negotiated(VirtualTime now) override { send_next(now); }
  void on_reply(const ic::IcReply& reply, VirtualTime now) override;
  std::optional<VirtualTime> on_poll(VirtualTime now) override;
  void on_closed() override { in_flight_.reset(); }

  void send_next(VirtualTime now);
  void trace_request(const InFlight& f, VirtualTime now);
  // The reply of an S_OK answer, read and traced; "" or why it is malformed.
  std::string read_ok_reply(const InFlight& f, const ic::IcReply& reply, VirtualTime now);
  void trace_failed_reply(const InFlight& f, uint32_t status, VirtualTime now);
  // A walk's next step after `f` was answered (ok) or ended (`end` names why).
  void continue_walk(const InFlight& f, bool ok, std::string_view end, VirtualTime now);

  KvpParams params_;
  std::deque<Queued> pending_;
  std::optional<InFlight> in_flight_;
};

}  // namespace hvsim::devices
