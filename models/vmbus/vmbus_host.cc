// VmbusHost: guest input queues, poll loop, outbox, offers, rescind, close and disconnect.
// The per-message handlers are in vmbus_host_messages.cc.
#include "models/vmbus/vmbus_host.h"

#include <algorithm>
#include <cstring>

#include "sim/core/status.h"

namespace hvsim::vmbus {

VmbusHost::VmbusHost(VmbusHostParams params, PhysicalMemory& mem, VmbusPlatform& platform, Tracer& tracer)
    : params_(std::move(params)),
      mem_(mem),
      platform_(platform),
      tracer_(tracer),
      offer_rng_(params_.seed, "vmbus/offer_order"),
      gpadls_(params_.gpadl_cap_bytes) {}

VmbusHost::~VmbusHost() = default;

void VmbusHost::add_device(std::unique_ptr<VmbusDevice> device, bool offered) {
  const std::string& name = device->desc().name;
  if (slot_of(name)) throw UsageError("VMBus device name '" + name + "' is used twice");
  for (const DeviceSlot& d : devices_) {
    if (d.device->desc().instance_id == device->desc().instance_id)
      throw UsageError("VMBus devices '" + d.device->desc().name + "' and '" + name + "' have the same instance GUID " +
                       guid_string(device->desc().instance_id));
  }
  devices_.push_back(DeviceSlot{std::move(device), offered, std::nullopt, {}, std::nullopt, true});
}

VmbusHost::DeviceSlot* VmbusHost::slot_of(std::string_view name) {
  for (DeviceSlot& d : devices_)
    if (d.device->desc().name == name) return &d;
  return nullptr;
}

VmbusDevice* VmbusHost::device(std::string_view name) {
  DeviceSlot* d = slot_of(name);
  if (!d) return nullptr;
  d->touched = any_touched_ = true;
  return d->device.get();
}

std::vector<std::string> VmbusHost::device_names() const {
  std::vector<std::string> out;
  for (const DeviceSlot& d : devices_) out.push_back(d.device->desc().name);
  return out;
}

std::vector<uint32_t> VmbusHost::message_connection_ids() const {
  std::vector<uint32_t> ids{kMessageConnectionId};
  // An older host has no port behind connection id 4: Linux then falls back to older versions.
  if (std::any_of(params_.versions.begin(), params_.versions.end(), [](uint32_t v) { return v >= kVersionWin10V5; }))
    ids.push_back(kMessageConnectionIdV5);
  return ids;
}

const Channel* VmbusHost::channel(uint32_t relid) const {
  auto it = channels_.find(relid);
  return it == channels_.end() ? nullptr : it->second.get();
}

Channel* VmbusHost::find_channel(uint32_t relid) {
  auto it = channels_.find(relid);
  return it == channels_.end() ? nullptr : it->second.get();
}

Channel* VmbusHost::channel_on_port(uint32_t id) {
  if (auto port = guest_ports_.find(id); port != guest_ports_.end()) return find_channel(port->second);
  if (id <= kEventConnectionBase || id > kEventConnectionBase + kMaxRelid) return nullptr;
  Channel* c = find_channel(id - kEventConnectionBase);
  return c && c->signal_connection_id() == id ? c : nullptr;  // unless its OpenChannel2 chose another
}

const Channel* VmbusHost::channel_of(std::string_view device) const {
  for (const DeviceSlot& d : devices_)
    if (d.device->desc().name == device && d.relid) return channel(*d.relid);
  return nullptr;
}

// --- guest input ---

uint16_t VmbusHost::post_message(VpIndex vp, uint32_t connection_id, std::span<const uint8_t> msg, VirtualTime now) {
  now_ = now;
  if (inbox_.size() >= kInboxDepth) return kHvStatusInsufficientBuffers;  // Linux backs off and retries
  inbox_.push_back(Inbound{now + params_.latency, vp, connection_id, {msg.begin(), msg.end()}});
  return kHvStatusSuccess;
}

uint16_t VmbusHost::signal_event(VpIndex vp, uint32_t connection_id, uint16_t flag, VirtualTime now) {
  now_ = now;
  if (connection_id == kLegacyEventConnectionId && conn_ && conn_->interrupt_page) return legacy_signal(vp, now);
  Channel* c = channel_on_port(connection_id);
  if (!c) return kHvStatusInvalidConnectionId;
  (void)flag;  // offers carry flag 0; any flag number reaches the same channel
  // Signals are handled at once (they only read ring state the guest already published); the
  // drain itself happens `latency` later, as on a real host.
  guest_signalled(*c, vp, "hypercall", now);
  return kHvStatusSuccess;
}

// §5.9: a SignalEvent on connection id 2 below 2.4 signals every channel whose bit the guest set
// in the second half of the interrupt page (the host clears the bits it consumed).
uint16_t VmbusHost::legacy_signal(VpIndex vp, VirtualTime now) {
  InterruptPage::GuestSignals s = conn_->interrupt_page->take_guest_signals();
  if (s.stray)
    protocol_error(now, "interrupt page bits set for relid 0 or beyond 2047; cleared", {TraceField::u64("bits", s.stray)});
  if (s.relids.empty() && !s.stray) protocol_error(now, "SignalEvent on connection id 2 with no interrupt page bit set");
  for (uint32_t relid : s.relids) {
    Channel* c = find_channel(relid);
    if (!c) {
      protocol_error(now, "interrupt page bit set for an unknown relid; cleared", {TraceField::u64("relid", relid)});
      continue;
    }
    guest_signalled(*c, vp, "interrupt_page", now);
  }
  return kHvStatusSuccess;
}

// A guest->host signal on `c`, by hypercall or monitor bit; `vp` is the VP that sent it (for a
// monitor bit, which carries no sender, the channel's target VP).
void VmbusHost::guest_signalled(Channel& c, VpIndex vp, const char* via, VirtualTime now) {
  bool necessary = c.guest_signal(now, params_.latency);
  if (c.next_deadline()) draining_.insert(c.relid());
  tracer_.emit(TracePoint::kVmbusSignal, now, static_cast<int>(vp),
               {TraceField::str_("dir", "guest->host"), TraceField::u64("relid", c.relid()),
                TraceField::boolean("necessary", necessary), TraceField::str_("via", via)});
  // A signal racing a rescind (a monitor bit set before the guest saw RESCIND_CHANNELOFFER) is
  // no rule violation: the guest could not know.
  if (necessary || c.state == ChannelState::kRescinded) return;
  ++unnecessary_signals_;
  tracer_.emit(TracePoint::kVmbusRuleViolation, now, static_cast<int>(vp),
               {TraceField::str_("rule", "unnecessary_signal"), TraceField::u64("relid", c.relid()),
                TraceField::str_("detail", c.state == ChannelState::kOpen
                                               ? "guest->host ring was not empty (or the host was already draining) and no space wait ended"
                                               : "channel is not open")});
  if (throttle_.count(c.relid(), now, params_.throttle)) {
    VirtualTime until = now + params_.throttle.suspend;
    tracer_.emit(TracePoint::kVmbusThrottle, now, static_cast<int>(vp),
                 {TraceField::u64("relid", c.relid()), TraceField::u64("threshold", params_.throttle.threshold),
                  TraceField::u64("window_ns", params_.throttle.window.ns()), TraceField::u64("until_ns", until.ns())});
    platform_.suspend_vp(vp, until);
  }
}

void VmbusHost::scan_monitor(VirtualTime now) {
  MonitorPages::Scan s = monitor_->scan();
  if (s.stray_bits) protocol_error(now, "monitor bits set for ids no channel was given; cleared", {TraceField::u64("bits", s.stray_bits)});
  for (uint8_t id : s.ids) {
    for (auto& [relid, c] : channels_) {
      if (c->monitor_id != id) continue;
      const Channel::OpenState* o = c->open_state();
      guest_signalled(*c, o ? o->target_vp : 0, "monitor", now);
      break;
    }
  }
}

// --- poll ---

std::optional<VirtualTime> VmbusHost::poll(VirtualTime now) {
  now_ = now;
  while (!inbox_.empty() && inbox_.front().due <= now) {
    Inbound in = std::move(inbox_.front());
    inbox_.pop_front();
    handle_message(in, now);
  }
  if (!rewriting_.empty()) check_rewrites(now);
  // Monitor pages are scanned every monitor_latency while a monitored channel is open.
  if (!monitor_ || monitored_open_ == 0) next_scan_.reset();
  else if (!next_scan_) next_scan_ = now + params_.monitor_latency;
  if (next_scan_ && *next_scan_ <= now) {
    scan_monitor(now);
    next_scan_ = now + params_.monitor_latency;
  }
  for (auto it = draining_.begin(); it != draining_.end();) {
    Channel* c = find_channel(*it);
    if (c) c->drain(now);
    it = c && c->next_deadline() ? std::next(it) : draining_.erase(it);
  }
  // Devices are polled when an event reached them or their deadline is due; their earliest
  // deadline is recomputed only then.
  if (any_touched_ || (devices_next_ && *devices_next_ <= now)) {
    any_touched_ = false;
    devices_next_.reset();
    for (DeviceSlot& d : devices_) {
      if (d.touched || (d.deadline && *d.deadline <= now)) {
        d.touched = false;
        d.deadline = d.device->poll(now);
      }
      if (d.deadline && (!devices_next_ || *d.deadline < *devices_next_)) devices_next_ = d.deadline;
    }
  }
  release_delayed(now);
  flush_outbox(now);

  std::optional<VirtualTime> next;
  auto consider = [&](std::optional<VirtualTime> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  if (!inbox_.empty()) consider(inbox_.front().due);
  consider(next_scan_);
  for (uint32_t relid : draining_) consider(channels_.at(relid)->next_deadline());
  consider(any_touched_ ? std::optional<VirtualTime>(now) : devices_next_);
  if (!outbox_.empty()) consider(now + params_.latency);  // retry a full SynIC queue
  consider(fault_deadline(now));
  if (next && *next < now) next = now;
  return next;
}

// --- output ---

void VmbusHost::send(std::span<const uint8_t> msg, VirtualTime now) {
  uint32_t type = 0;
  std::memcpy(&type, msg.data(), sizeof type);
  const int vp = reply_to_ ? static_cast<int>(reply_to_->vp) : kNoVp;
  VirtualTime until;
  switch (responses_.decide(type, now, until)) {
    case ResponseControl::Verdict::kWithhold:
      tracer_.emit(TracePoint::kVmbusMsgOut, now, vp,
                   {TraceField::str_("type", msg_type_name(type)), TraceField::u64("size", msg.size()),
                    TraceField::str_("fault", "withheld")});
      return;
    case ResponseControl::Verdict::kDelay: {
      bool held = responses_.hold(msg, until);
      tracer_.emit(TracePoint::kVmbusMsgOut, now, vp,
                   {TraceField::str_("type", msg_type_name(type)), TraceField::u64("size", msg.size()),
                    TraceField::str_("fault", held ? "delayed" : "delay_dropped"), TraceField::u64("until_ns", until.ns())});
      return;
    }
    case ResponseControl::Verdict::kSend: break;
  }
  tracer_.emit(TracePoint::kVmbusMsgOut, now, vp,
               {TraceField::str_("type", msg_type_name(type)), TraceField::u64("size", msg.size())});
  enqueue(msg, now);
}

bool VmbusHost::enqueue(std::span<const uint8_t> msg, VirtualTime now, std::optional<VpIndex> vp) {
  if (outbox_.size() >= kOutboxDepth) {
    uint32_t type = 0;
    std::memcpy(&type, msg.data(), std::min(msg.size(), sizeof type));
    protocol_error(now, "outbox full: the guest does not drain its SINT2 message slot; message dropped",
                   {TraceField::str_("type", msg_type_name(type))});
    return false;
  }
  outbox_.push_back(Outgoing{{msg.begin(), msg.end()}, vp});
  flush_outbox(now);
  return true;
}

// Host messages go to the last INITIATE_CONTACT's VP and SINT; before one (only injected
// messages) to VP 0, SINT 2.
void VmbusHost::flush_outbox(VirtualTime now) {
  if (outbox_.empty()) return;
  const ReplyTarget to = reply_to_.value_or(ReplyTarget{});
  while (!outbox_.empty()) {
    uint32_t type = 0;
    const std::vector<uint8_t>& bytes = outbox_.front().bytes;
    std::memcpy(&type, bytes.data(), std::min(bytes.size(), sizeof type));
    const VpIndex vp = outbox_.front().vp.value_or(to.vp);
    if (busy_retry_) {
      if (now < *busy_retry_) return;
    } else if (faults_.fires(FaultPoint::kBusyOutbox)) {
      busy_retry_ = now + params_.latency;  // this message waits once, for the next retry
      tracer_.emit(TracePoint::kVmbusMsgOut, now, static_cast<int>(to.vp),
                   {TraceField::str_("type", msg_type_name(type)),
                    TraceField::str_("fault", fault_point_name(FaultPoint::kBusyOutbox))});
      return;
    }
    MessageDelivery d = platform_.post_message(vp, to.sint, bytes, now);
    if (d == MessageDelivery::kBusy) return;
    busy_retry_.reset();
    if (d == MessageDelivery::kRejected) {
      protocol_error(now, "message not deliverable (SynIC or message page disabled on the target VP); dropped",
                     {TraceField::str_("type", msg_type_name(type)), TraceField::u64("target_vp", vp)});
    } else {
      last_posted_ = Posted{vp, to.sint, std::move(outbox_.front().bytes)};
    }
    outbox_.pop_front();
  }
}

void VmbusHost::protocol_error(VirtualTime now, std::string_view what, std::initializer_list<TraceField> fields) {
  std::vector<TraceField> all{TraceField::str_("error", what)};
  all.insert(all.end(), fields.begin(), fields.end());
  tracer_.emit(TracePoint::kVmbusProtocol, now, kNoVp, all);
}

void VmbusHost::set_state(Channel& c, ChannelState s, VirtualTime now) {
  c.state = s;
  tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
               {TraceField::u64("relid", c.relid()), TraceField::str_("device", c.device().desc().name),
                TraceField::str_("state", channel_state_name(s))});
}

// --- offers ---

uint32_t VmbusHost::allocate_relid() const {
  for (uint32_t r = 1; r <= kMaxRelid; ++r)
    if (!channels_.count(r)) return r;
  return 0;
}

OfferChannel VmbusHost::offer_message(const DeviceDesc& d, uint16_t sub_index, uint32_t relid,
                                      std::optional<uint8_t> monitor_id, uint32_t version) {
  OfferChannel m{};
  m.hdr.msgtype = static_cast<uint32_t>(MsgType::kOfferChannel);
  m.if_type = d.class_id;
  m.if_instance = d.instance_id;
  m.chn_flags = d.chn_flags;
  m.mmio_megabytes = d.mmio_megabytes;
  std::memcpy(m.user_def, d.user_def, sizeof m.user_def);
  m.sub_channel_index = sub_index;
  if (monitor_id) {
    m.monitorid = *monitor_id;
    m.monitor_allocated = 1;
  }
  m.child_relid = relid;
  const bool shared = version != 0 && version < kVersionWin7;  // 0.13: one event connection for all
  m.is_dedicated_interrupt = shared ? 0 : 1;
  m.connection_id = shared ? kLegacyEventConnectionId : kEventConnectionBase + relid;
  return m;
}

void VmbusHost::send_offer(Channel& c, VirtualTime now) {
  if (monitor_ && !c.monitor_id) c.monitor_id = monitor_->allocate(c.connection_id());
  c.offer_sent = true;
  send(offer_message(c.device().desc(), c.sub_channel_index(), c.relid(), c.monitor_id, version()), now);
}

bool VmbusHost::offer(std::string_view name, VirtualTime now) {
  now_ = now;
  DeviceSlot* d = slot_of(name);
  if (!d || d->relid) return false;
  uint32_t relid = allocate_relid();
  if (relid == 0) return false;
  d->relid = relid;
  auto c = std::make_unique<Channel>(relid, 0, *d->device, d->touched, any_touched_, platform_, tracer_, now_, faults_);
  Channel& ch = *c;
  channels_[relid] = std::move(c);
  set_state(ch, ChannelState::kOffered, now);
  if (conn_ && conn_->offers_requested) send_offer(ch, now);
  return true;
}

// Sub-channels are offered once their primary is open (QEMU offers requested sub-channels after
// the primary; hvsim's devices declare how many they have).
void VmbusHost::offer_sub_channels(DeviceSlot& d, VirtualTime now) {
  for (uint16_t i = 1; i <= d.device->desc().sub_channels; ++i) {
    bool exists = std::any_of(d.sub_relids.begin(), d.sub_relids.end(),
                              [&](uint32_t r) { return channels_.at(r)->sub_channel_index() == i; });
    if (exists) continue;  // still offered (or rescinded and not yet released)
    uint32_t relid = allocate_relid();
    if (relid == 0) return;
    auto c = std::make_unique<Channel>(relid, i, *d.device, d.touched, any_touched_, platform_, tracer_, now_, faults_);
    Channel& ch = *c;
    channels_[relid] = std::move(c);
    d.sub_relids.push_back(relid);
    set_state(ch, ChannelState::kOffered, now);
    send_offer(ch, now);
  }
}

VmbusHost::DeviceSlot* VmbusHost::slot_of(const Channel& c) {
  for (DeviceSlot& d : devices_)
    if (d.device.get() == &c.device()) return &d;
  return nullptr;
}

void VmbusHost::forget_channel(uint32_t relid) {
  Channel* c = find_channel(relid);
  if (!c) return;
  if (DeviceSlot* d = slot_of(*c)) {
    if (d->relid == relid) d->relid.reset();
    std::erase(d->sub_relids, relid);
  }
  throttle_.forget(relid);
  draining_.erase(relid);
  rewriting_.erase(relid);
  if (c->monitor_id && monitor_) monitor_->release(*c->monitor_id);
  channels_.erase(relid);
}

bool VmbusHost::rescind_relid(uint32_t relid, VirtualTime now) {
  now_ = now;
  Channel* c = find_channel(relid);
  if (!c || c->state == ChannelState::kRescinded) return false;
  close_channel(*c, now, "rescind");
  set_state(*c, ChannelState::kRescinded, now);
  if (!c->offer_sent) {
    forget_channel(relid);  // the guest never saw the offer: the relid is free again at once
    return true;
  }
  RescindChannelOffer m{};
  m.hdr.msgtype = static_cast<uint32_t>(MsgType::kRescindChannelOffer);
  m.child_relid = relid;
  send(m, now);
  return true;
}

bool VmbusHost::rescind(std::string_view name, VirtualTime now) {
  DeviceSlot* d = slot_of(name);
  if (!d || !d->relid) return false;
  Channel* primary = find_channel(*d->relid);
  if (!primary || primary->state == ChannelState::kRescinded) return false;
  for (uint32_t sub : std::vector<uint32_t>(d->sub_relids)) rescind_relid(sub, now);
  return rescind_relid(*d->relid, now);
}

// --- close / disconnect ---

void VmbusHost::close_channel(Channel& c, VirtualTime now, const char* why) {
  if (c.state != ChannelState::kOpen) return;
  if (c.monitor_id) --monitored_open_;
  if (const Channel::OpenState* o = c.open_state(); o && o->guest_connection_id)
    guest_ports_.erase(*o->guest_connection_id);
  c.close(now);
  throttle_.forget(c.relid());
  c.state = ChannelState::kOffered;
  tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
               {TraceField::u64("relid", c.relid()), TraceField::str_("device", c.device().desc().name),
                TraceField::str_("state", "closed"), TraceField::str_("why", why)});
  finish_teardowns(c, now);
}

void VmbusHost::finish_teardowns(Channel& c, VirtualTime now) {
  for (uint32_t handle : c.deferred_teardowns) {
    const Gpadl* g = gpadls_.find(handle);
    const uint32_t relid = g ? g->relid : 0;  // the channel its GPADL_HEADER named
    if (!teardown_gpadl(handle)) continue;
    tracer_.emit(TracePoint::kVmbusGpadl, now, kNoVp,
                 {TraceField::hex("gpadl", handle), TraceField::u64("relid", relid), TraceField::str_("result", "torndown"),
                  TraceField::u64("total_bytes", gpadls_.charged_bytes())});
    GpadlTorndown m{};
    m.hdr.msgtype = static_cast<uint32_t>(MsgType::kGpadlTorndown);
    m.gpadl = handle;
    send(m, now);
  }
  c.deferred_teardowns.clear();
}

bool VmbusHost::teardown_gpadl(uint32_t handle) {
  if (const Gpadl* g = gpadls_.find(handle)) {
    for (uint64_t pfn : g->pages()) {
      auto it = gpadl_pages_.find(pfn);
      if (it != gpadl_pages_.end() && --it->second == 0) gpadl_pages_.erase(it);
    }
  }
  return gpadls_.teardown(handle);
}

// UNLOAD or a reconnect: every channel closes, GPADLs are forgotten, rescinded channels are
// released, and offers go back to the state before REQUESTOFFERS.
void VmbusHost::disconnect(VirtualTime now) {
  for (auto& [relid, c] : channels_) {
    c->deferred_teardowns.clear();
    close_channel(*c, now, "disconnect");
    c->offer_sent = false;
    c->monitor_id.reset();
  }
  // Rescinded channels count as released; sub-channels go with their primaries' opens.
  std::vector<uint32_t> gone;
  for (auto& [relid, c] : channels_)
    if (c->state == ChannelState::kRescinded || c->sub_channel_index() > 0) gone.push_back(relid);
  for (uint32_t relid : gone) forget_channel(relid);
  gpadls_.clear();
  gpadl_pages_.clear();
  outbox_.clear();
  busy_retry_.reset();
  if (size_t n = responses_.drop_held()) {
    tracer_.emit(TracePoint::kVmbusMsgOut, now, kNoVp,
                 {TraceField::str_("fault", "delayed_dropped"), TraceField::u64("count", n),
                  TraceField::str_("why", "disconnect")});
  }
  monitor_.reset();
  next_scan_.reset();
  conn_.reset();
}

}  // namespace hvsim::vmbus
