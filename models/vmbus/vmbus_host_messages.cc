// VmbusHost: one handler per guest->host channel message (PROTOCOL.md §5.3-§5.7, §9.3, §10.1).
// Every handler checks the message size before reading a field; a message that breaks the
// protocol is traced (vmbus.protocol_error) with what the host did about it.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "models/vmbus/vmbus_host.h"

namespace hvsim::vmbus {

namespace {

template <typename T>
bool read_msg(std::span<const uint8_t> m, T& out) {
  if (m.size() < sizeof(T)) return false;
  std::memcpy(&out, m.data(), sizeof(T));
  return true;
}

template <typename T>
T header_only(MsgType type) {
  T m{};
  if constexpr (std::is_same_v<T, MsgHeader>) m.msgtype = static_cast<uint32_t>(type);
  else m.hdr.msgtype = static_cast<uint32_t>(type);
  return m;
}

// Minimum size of each guest->host message (header included), 0 = not a guest->host message.
size_t min_size(MsgType t) {
  switch (t) {
    case MsgType::kRequestOffers: return sizeof(MsgHeader);
    case MsgType::kOpenChannel: return sizeof(OpenChannel);
    case MsgType::kCloseChannel: return sizeof(CloseChannel);
    case MsgType::kGpadlHeader: return sizeof(GpadlHeader);
    case MsgType::kGpadlBody: return sizeof(GpadlBody);
    case MsgType::kGpadlTeardown: return sizeof(GpadlTeardown);
    case MsgType::kRelidReleased: return sizeof(RelidReleased);
    case MsgType::kInitiateContact: return sizeof(InitiateContact);
    case MsgType::kUnload: return sizeof(MsgHeader);
    case MsgType::kModifyChannel: return sizeof(ModifyChannel);
    case MsgType::kModifyConnection: return sizeof(ModifyConnection);
    case MsgType::kPause: return sizeof(MsgHeader);
    case MsgType::kResume: return sizeof(MsgHeader);
    default: return 0;
  }
}

}  // namespace

void VmbusHost::handle_message(const Inbound& in, VirtualTime now) {
  std::span<const uint8_t> m(in.msg);
  uint32_t type = 0;
  if (m.size() >= 4) std::memcpy(&type, m.data(), 4);
  tracer_.emit(TracePoint::kVmbusMsgIn, now, static_cast<int>(in.vp),
               {TraceField::str_("type", msg_type_name(type)), TraceField::u64("size", m.size()),
                TraceField::u64("connection_id", in.connection_id)});
  size_t need = type < static_cast<uint32_t>(MsgType::kCount) ? min_size(static_cast<MsgType>(type)) : 0;
  if (need == 0) {
    protocol_error(now, "not a guest->host message type; ignored", {TraceField::u64("type", type)});
    return;
  }
  if (m.size() < need) {
    protocol_error(now, "message shorter than its type requires; ignored",
                   {TraceField::str_("type", msg_type_name(type)), TraceField::u64("size", m.size()),
                    TraceField::u64("expected", need)});
    return;
  }
  MsgType t = static_cast<MsgType>(type);
  if (t == MsgType::kInitiateContact) return on_initiate_contact(in, now);
  if (!conn_) {
    protocol_error(now, "message before INITIATE_CONTACT was accepted; ignored",
                   {TraceField::str_("type", msg_type_name(type))});
    return;
  }
  if (in.connection_id != kMessageConnectionId && conn_->version < kVersionWin10V5) {
    protocol_error(now, "message on connection id 4 below version 5.0; handled anyway",
                   {TraceField::u64("connection_id", in.connection_id)});
  }
  switch (t) {
    case MsgType::kRequestOffers: return on_request_offers(now);
    case MsgType::kOpenChannel: return on_open_channel(m, now);
    case MsgType::kCloseChannel: return on_close_channel(m, now);
    case MsgType::kGpadlHeader: return on_gpadl_header(m, now);
    case MsgType::kGpadlBody: return on_gpadl_body(m, now);
    case MsgType::kGpadlTeardown: return on_gpadl_teardown(m, now);
    case MsgType::kRelidReleased: return on_relid_released(m, now);
    case MsgType::kUnload: return on_unload(now);
    case MsgType::kModifyChannel: return on_modify_channel(m, now);
    case MsgType::kModifyConnection: return on_modify_connection(m, now);
    case MsgType::kPause:
    case MsgType::kResume:
      protocol_error(now, "PAUSE and RESUME need the pause_resume feature, which this host does not offer; ignored",
                     {TraceField::str_("type", msg_type_name(type))});
      return;
    default: break;
  }
}

// §5.2, §5.6 step 2.
void VmbusHost::on_initiate_contact(const Inbound& in, VirtualTime now) {
  InitiateContact ic{};
  read_msg(in.msg, ic);
  uint32_t v = ic.vmbus_version_requested;
  if (conn_) {
    // A second INITIATE_CONTACT is a reconnect (kexec/kdump): tear everything down first, as
    // OpenVMM does, then negotiate afresh.
    protocol_error(now, "INITIATE_CONTACT while connected: disconnecting, then negotiating again");
    disconnect(now);
  }
  bool known = std::find(params_.versions.begin(), params_.versions.end(), v) != params_.versions.end();
  bool on_v5_port = in.connection_id == kMessageConnectionIdV5;
  unsigned sint = kVmbusSint;
  uint8_t state = 0;  // connection_state: 0 success, 2 failed (unknown)
  if (known && v >= kVersionWin10V5) {
    sint = static_cast<unsigned>(ic.interrupt_page_or_sint & 0xFF);
    if (!on_v5_port || sint != kVmbusSint) known = false;  // OpenVMM: only SINT 2, only on id 4
  }
  if (known && ((ic.monitor_page1 == 0) != (ic.monitor_page2 == 0))) state = 2;  // both or neither
  std::optional<MonitorPages> monitor;
  if (known && state == 0 && ic.monitor_page1 != 0 && params_.monitor_latency.ps() > 0) {
    monitor.emplace(mem_, ic.monitor_page1, ic.monitor_page2, params_.monitor_latency);
    if (!monitor->usable()) {
      protocol_error(now, "INITIATE_CONTACT monitor pages are not two distinct page-aligned RAM pages; connection failed",
                     {TraceField::hex("monitor_page1", ic.monitor_page1), TraceField::hex("monitor_page2", ic.monitor_page2)});
      state = 2;
    }
  }
  // Below 2.4 channel signals go through the shared interrupt page (§5.9); a page that is not
  // page-aligned RAM fails the connection, as unusable monitor pages do.
  std::optional<InterruptPage> interrupt_page;
  if (known && state == 0 && v < kVersionWin8) {
    interrupt_page.emplace(mem_, ic.interrupt_page_or_sint);
    if (!interrupt_page->usable()) {
      protocol_error(now, "INITIATE_CONTACT interrupt page below 2.4 is not a page-aligned RAM page; connection failed",
                     {TraceField::hex("interrupt_page", ic.interrupt_page_or_sint)});
      state = 2;
    }
  }
  // Below 3.0 the host ignores target_vcpu and answers on VP 0.
  VpIndex target = v >= kVersionWin8_1 ? ic.target_vcpu : 0;
  if (target >= platform_.vp_count()) {
    protocol_error(now, "INITIATE_CONTACT target_vcpu is not a VP; answering on VP 0",
                   {TraceField::u64("target_vcpu", target)});
    target = 0;
  }
  // 6.0 (§5.5): the features asked for (INITIATE_CONTACT @20) that this host supports; unknown
  // and unsupported bits are dropped, not refused (OpenVMM does the same).
  const uint32_t requested = v >= kVersionCopper ? static_cast<uint32_t>(ic.interrupt_page_or_sint >> 32) : 0;
  const uint32_t granted = known && state == 0 ? requested & params_.features : 0;
  VersionResponse2 r{};
  r.base = header_only<VersionResponse>(MsgType::kVersionResponse);
  r.base.version_supported = known ? 1 : 0;
  r.base.connection_state = state;
  r.base.msg_conn_id = v >= kVersionWin10V5 ? kMessageConnectionId : v;
  r.supported_features = granted;
  // The response goes out on the requested VP/SINT even when the version is refused.
  reply_to_ = ReplyTarget{target, sint};
  if (known && state == 0) {
    conn_ = Connection{v, target, sint, false, interrupt_page, granted};
    if (monitor && monitor->usable()) monitor_.emplace(std::move(*monitor));
  }
  const std::string version = version_name(v);  // outlives `fields`, which only points at it
  const TraceField fields[] = {TraceField::str_("state", known && state == 0 ? "connected" : "refused"),
                               TraceField::str_("version", version), TraceField::u64("target_vp", target),
                               TraceField::u64("sint", sint), TraceField::hex("features_requested", requested),
                               TraceField::hex("features", granted)};
  const bool copper = known && v >= kVersionCopper;
  tracer_.emit(TracePoint::kVmbusChannel, now, static_cast<int>(target),
               std::span<const TraceField>(fields, copper ? 6 : 4));
  // VERSION_RESPONSE2 (20 bytes, §5.4) for an accepted 6.0+, failed or not; else VERSION_RESPONSE.
  auto* bytes = reinterpret_cast<const uint8_t*>(&r);
  send(std::span<const uint8_t>(bytes, copper ? sizeof r : sizeof r.base), now);
}

// §5.6 step 3: one OFFERCHANNEL per channel in a seeded order, then ALLOFFERS_DELIVERED.
void VmbusHost::on_request_offers(VirtualTime now) {
  if (conn_->offers_requested) {
    protocol_error(now, "second REQUESTOFFERS on one connection; ignored");
    return;
  }
  for (DeviceSlot& d : devices_)
    if (d.offer_at_start && !d.relid) offer(d.device->desc().name, now);
  std::vector<Channel*> order;
  for (auto& [relid, c] : channels_)
    if (c->state == ChannelState::kOffered && !c->offer_sent) order.push_back(c.get());
  // Fisher-Yates with the seeded stream: guests must not assume an order (vmbus.rst).
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[offer_rng_.below(i)]);
  for (Channel* c : order) send_offer(*c, now);
  conn_->offers_requested = true;
  send(header_only<MsgHeader>(MsgType::kAllOffersDelivered), now);
}

void VmbusHost::gpadl_outcome(const GpadlTable::Outcome& o, VirtualTime now) {
  using K = GpadlTable::Outcome::Kind;
  if (o.kind == K::kIncomplete) return;
  tracer_.emit(TracePoint::kVmbusGpadl, now, kNoVp,
               {TraceField::hex("gpadl", o.handle), TraceField::u64("relid", o.relid),
                TraceField::str_("result", o.kind == K::kCreated ? "created" : "failed"),
                TraceField::str_("error", o.error), TraceField::u64("total_bytes", gpadls_.charged_bytes()),
                TraceField::u64("cap_bytes", gpadls_.cap_bytes())});
  if (const Gpadl* g = o.kind == K::kCreated ? gpadls_.find(o.handle) : nullptr) {
    // Checker: memory that is still described by another GPADL is being handed over again.
    uint64_t shared = 0, first = 0;
    for (uint64_t pfn : g->pages()) {
      uint32_t& n = gpadl_pages_[pfn];
      if (n++ > 0 && shared++ == 0) first = pfn;
    }
    if (shared > 0) {
      tracer_.emit(TracePoint::kVmbusRuleViolation, now, kNoVp,
                   {TraceField::str_("rule", "gpadl_overlap"), TraceField::hex("gpadl", o.handle),
                    TraceField::u64("pages", shared), TraceField::hex("first_pfn", first),
                    TraceField::str_("detail", "pages still in another GPADL are reused")});
    }
  }
  GpadlCreated r = header_only<GpadlCreated>(MsgType::kGpadlCreated);
  r.child_relid = o.relid;
  r.gpadl = o.handle;
  r.creation_status = o.kind == K::kCreated ? kStatusSuccess : kStatusUnsuccessful;
  send(r, now);
}

void VmbusHost::on_gpadl_header(std::span<const uint8_t> m, VirtualTime now) {
  GpadlHeader h{};
  read_msg(m, h);
  GpadlTable::Outcome o = gpadls_.on_header(m.data(), m.size());
  if (o.kind == GpadlTable::Outcome::Kind::kFailed) {
    o.handle = h.gpadl;
    o.relid = h.child_relid;
  }
  gpadl_outcome(o, now);
}

void VmbusHost::on_gpadl_body(std::span<const uint8_t> m, VirtualTime now) {
  GpadlBody b{};
  read_msg(m, b);
  GpadlTable::Outcome o = gpadls_.on_body(m.data(), m.size());
  if (o.kind == GpadlTable::Outcome::Kind::kFailed && o.relid == 0) {
    // A body for no pending GPADL: there is nothing to answer.
    protocol_error(now, "GPADL_BODY for no pending GPADL; ignored",
                   {TraceField::hex("gpadl", b.gpadl), TraceField::str_("detail", o.error)});
    return;
  }
  gpadl_outcome(o, now);
}

void VmbusHost::on_gpadl_teardown(std::span<const uint8_t> m, VirtualTime now) {
  GpadlTeardown t{};
  read_msg(m, t);
  const Gpadl* g = gpadls_.find(t.gpadl);
  if (!g) {
    // §5.7: teardown of an unknown id gets no reply.
    protocol_error(now, "GPADL_TEARDOWN of an unknown GPADL; no reply", {TraceField::hex("gpadl", t.gpadl)});
    if (gpadls_.teardown(t.gpadl)) {
      tracer_.emit(TracePoint::kVmbusGpadl, now, kNoVp,
                   {TraceField::hex("gpadl", t.gpadl), TraceField::str_("result", "pending dropped")});
    }
    return;
  }
  for (auto& [relid, c] : channels_) {
    const Channel::OpenState* o = c->open_state();
    if (o && o->gpadl == t.gpadl) {
      // A host must not release a ring still in use (§5.6 step 7): answered when the channel closes.
      tracer_.emit(TracePoint::kVmbusRuleViolation, now, kNoVp,
                   {TraceField::str_("rule", "gpadl_in_use"), TraceField::u64("relid", relid),
                    TraceField::hex("gpadl", t.gpadl),
                    TraceField::str_("detail", "teardown of an open channel's ring GPADL; deferred until close")});
      c->deferred_teardowns.push_back(t.gpadl);
      return;
    }
  }
  const uint32_t gpadl_relid = g->relid;  // the channel its GPADL_HEADER named
  teardown_gpadl(t.gpadl);
  tracer_.emit(TracePoint::kVmbusGpadl, now, kNoVp,
               {TraceField::hex("gpadl", t.gpadl), TraceField::u64("relid", gpadl_relid),
                TraceField::str_("result", "torndown"), TraceField::u64("total_bytes", gpadls_.charged_bytes())});
  GpadlTorndown r = header_only<GpadlTorndown>(MsgType::kGpadlTorndown);
  r.gpadl = t.gpadl;
  send(r, now);
}

void VmbusHost::on_open_channel(std::span<const uint8_t> m, VirtualTime now) {
  // 6.0: once signal parameters or redirection were negotiated every open is an OpenChannel2; a
  // short one cannot be parsed and gets no answer (OpenVMM drops it the same way).
  const bool open2 = conn_->features & (kFeatureGuestSpecifiedSignalParameters | kFeatureChannelInterruptRedirection);
  OpenChannel2 o2{};
  if (open2 && !read_msg(m, o2)) {
    protocol_error(now, "OPENCHANNEL shorter than the OpenChannel2 this connection negotiated; ignored",
                   {TraceField::u64("size", m.size()), TraceField::u64("expected", sizeof o2)});
    return;
  }
  OpenChannel o{};
  read_msg(m, o);
  const bool guest_params = conn_->features & kFeatureGuestSpecifiedSignalParameters;
  Channel* c = find_channel(o.child_relid);
  // `why`: the protocol error a failure is traced as ("" = none).
  auto result = [&](uint32_t status, std::string_view why) {
    if (!why.empty()) {
      protocol_error(now, why, {TraceField::u64("relid", o.child_relid), TraceField::hex("gpadl", o.ringbuffer_gpadlhandle)});
    }
    OpenChannelResult r = header_only<OpenChannelResult>(MsgType::kOpenChannelResult);
    r.child_relid = o.child_relid;
    r.openid = o.openid;
    r.status = status;
    send(r, now);
  };
  if (!c) return result(kStatusUnsuccessful, "OPENCHANNEL for an unknown relid");
  if (c->state == ChannelState::kRescinded) {
    // §10.1: Hyper-V silently ignores an OPENCHANNEL for a rescinded relid. No protocol error: the
    // guest may have posted it before the rescind reached it (the race Linux lives with too).
    tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
                 {TraceField::u64("relid", o.child_relid), TraceField::str_("device", c->device().desc().name),
                  TraceField::str_("state", "rescinded"), TraceField::str_("ignored", "OPENCHANNEL")});
    return;
  }
  if (c->state == ChannelState::kOpen) return result(kStatusUnsuccessful, "OPENCHANNEL for an open channel");
  const Gpadl* g = gpadls_.find(o.ringbuffer_gpadlhandle);
  if (!g) return result(kStatusUnsuccessful, "OPENCHANNEL names no created GPADL");
  uint32_t pages = static_cast<uint32_t>(g->pages().size());
  uint32_t down = o.downstream_ringbuffer_pageoffset;
  if (down < 2 || down > pages || pages - down < 2)
    return result(kStatusUnsuccessful, "OPENCHANNEL ring split leaves a ring under 2 pages");
  // Below 2.4 the host ignores target_vp: every channel interrupts the connection's VP (§5.2).
  const bool legacy = conn_->version < kVersionWin8;
  if (!legacy && o.target_vp >= platform_.vp_count()) return result(kStatusUnsuccessful, "OPENCHANNEL target_vp is not a VP");
  Channel::OpenState s{
      .gpadl = o.ringbuffer_gpadlhandle,
      .openid = o.openid,
      .target_vp = legacy ? conn_->target_vp : o.target_vp,
      .old_vp = std::nullopt,
      .lag_until = VirtualTime{},
      .out = HostRing(GpadlView(mem_, *g, 0, down)),
      .in = HostRing(GpadlView(mem_, *g, down, pages - down)),
      .drain_due = std::nullopt,
      .space_wait = false,
      .broken = false,
      .rewrite = std::nullopt,
      .guest_connection_id = std::nullopt,
      .event_flag = std::nullopt,
  };
  if (!s.out.valid() || !s.in.valid()) return result(kStatusUnsuccessful, "OPENCHANNEL ring pages are not RAM");
  if (guest_params) {
    if (o2.event_flag >= kSiefFlags)
      return result(kStatusUnsuccessful, "OpenChannel2 event_flag beyond the 2048 SIEF flags");
    s.guest_connection_id = o2.connection_id;
    s.event_flag = o2.event_flag;
  }
  if (const char* why = port_conflict(guest_params ? o2.connection_id : c->connection_id(), *c))
    return result(kStatusUnsuccessful, why);
  const RingPageLimits& limits = c->device().desc().ring_pages;
  if (!limits.allows(down) || !limits.allows(pages - down)) {
    // The device refuses the ring sizes: no protocol error (the guest broke no rule), the open
    // fails as OpenVMM fails an open its device refuses (STATUS_UNSUCCESSFUL).
    tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
                 {TraceField::u64("relid", o.child_relid), TraceField::str_("device", c->device().desc().name),
                  TraceField::str_("state", "open_refused"), TraceField::str_("why", "ring_pages"),
                  TraceField::u64("guest_to_host_pages", down), TraceField::u64("host_to_guest_pages", pages - down),
                  TraceField::u64("min", limits.min), TraceField::u64("max", limits.max)});
    return result(kStatusUnsuccessful, "");
  }
  c->set_version(conn_->version);
  c->set_interrupt_page(conn_->interrupt_page);
  if (s.guest_connection_id) guest_ports_[*s.guest_connection_id] = c->relid();
  set_state(*c, ChannelState::kOpen, now);
  if (c->monitor_id) ++monitored_open_;
  result(kStatusSuccess, "");
  c->open(std::move(s), now);
  DeviceSlot* d = slot_of(*c);
  // Sub-channels exist from 2.4 on (§5.2).
  if (d && !legacy && c->sub_channel_index() == 0 && d->relid == c->relid()) offer_sub_channels(*d, now);
}

void VmbusHost::on_close_channel(std::span<const uint8_t> m, VirtualTime now) {
  CloseChannel cc{};
  read_msg(m, cc);
  Channel* c = find_channel(cc.child_relid);
  if (!c || c->state != ChannelState::kOpen) {
    // Linux closes rescinded channels too (§10.2); only a close of a channel never opened is odd.
    if (!c || c->state != ChannelState::kRescinded)
      protocol_error(now, "CLOSECHANNEL for a channel that is not open; ignored", {TraceField::u64("relid", cc.child_relid)});
    return;
  }
  c->drain_all(now);
  close_channel(*c, now, "guest");
}

void VmbusHost::on_relid_released(std::span<const uint8_t> m, VirtualTime now) {
  RelidReleased r{};
  read_msg(m, r);
  Channel* c = find_channel(r.child_relid);
  if (!c || c->state != ChannelState::kRescinded) {
    // OpenVMM: a protocol error while the channel is open or opening; ignored otherwise.
    protocol_error(now, "RELID_RELEASED for a channel that was not rescinded; ignored",
                   {TraceField::u64("relid", r.child_relid)});
    return;
  }
  tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
               {TraceField::u64("relid", r.child_relid), TraceField::str_("device", c->device().desc().name),
                TraceField::str_("state", "released")});
  // GPADLs the guest never tore down go with the channel, without a reply or an error (OpenVMM's
  // client_release_channel drops a revoked channel's remaining GPADLs, created or in progress).
  for (uint32_t handle : gpadls_.handles_of(r.child_relid)) {
    teardown_gpadl(handle);
    tracer_.emit(TracePoint::kVmbusGpadl, now, kNoVp,
                 {TraceField::hex("gpadl", handle), TraceField::u64("relid", r.child_relid),
                  TraceField::str_("result", "released"), TraceField::u64("total_bytes", gpadls_.charged_bytes())});
  }
  forget_channel(r.child_relid);
}

// A channel's guest->host port must not be a message port or another open channel's port (the
// SynIC refuses a second port on one connection id; OpenVMM fails the open then).
const char* VmbusHost::port_conflict(uint32_t id, const Channel& c) {
  for (uint32_t message_port : message_connection_ids())
    if (id == message_port) return "the channel's connection id is a message connection id";
  const Channel* other = channel_on_port(id);
  if (!other || other == &c || other->state != ChannelState::kOpen) return nullptr;
  return guest_ports_.count(id) ? "the channel's connection id is another open channel's OpenChannel2 port"
                                : "the channel's connection id is another open channel's port";
}

// §9.3.
void VmbusHost::on_modify_channel(std::span<const uint8_t> m, VirtualTime now) {
  ModifyChannel mc{};
  read_msg(m, mc);
  if (conn_->version < kVersionWin10V41) {
    protocol_error(now, "MODIFYCHANNEL below version 4.1; ignored", {TraceField::u64("relid", mc.child_relid)});
    return;
  }
  Channel* c = find_channel(mc.child_relid);
  uint32_t status = kStatusSuccess;
  if (!c || c->state != ChannelState::kOpen) {
    protocol_error(now, "MODIFYCHANNEL for a channel that is not open", {TraceField::u64("relid", mc.child_relid)});
    status = kStatusUnsuccessful;
  } else if (mc.target_vp >= platform_.vp_count()) {
    protocol_error(now, "MODIFYCHANNEL target_vp is not a VP", {TraceField::u64("target_vp", mc.target_vp)});
    status = kStatusUnsuccessful;
  } else {
    c->retarget(mc.target_vp, now, params_.retarget_lag);
    tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
                 {TraceField::u64("relid", mc.child_relid), TraceField::str_("state", "retargeted"),
                  TraceField::u64("target_vp", mc.target_vp), TraceField::u64("lag_ns", params_.retarget_lag.ns())});
  }
  if (conn_->version < kVersionWin10V53) return;  // fire-and-forget before 5.3
  ModifyChannelResponse r = header_only<ModifyChannelResponse>(MsgType::kModifyChannelResponse);
  r.child_relid = mc.child_relid;
  r.status = status;
  send(r, now);
}

// 6.0 with kFeatureModifyConnection (§5.4): both GPAs move the monitor pages there, both 0 drop
// them, and channels keep the monitor ids their offers carried. It fails (connection_state 2)
// for one GPA alone, for pages that are not two distinct page-aligned RAM pages, and while a
// monitored channel is open (OpenVMM: no change under an open MNF channel).
void VmbusHost::on_modify_connection(std::span<const uint8_t> m, VirtualTime now) {
  if (!(conn_->features & kFeatureModifyConnection)) {
    protocol_error(now, "MODIFY_CONNECTION without the modify_connection feature; ignored");
    return;
  }
  ModifyConnection mc{};
  read_msg(m, mc);
  const uint64_t p2c = mc.parent_to_child_monitor_page, c2p = mc.child_to_parent_monitor_page;
  const char* why = nullptr;
  std::optional<MonitorPages> pages;
  if ((p2c == 0) != (c2p == 0)) {
    why = "MODIFY_CONNECTION names one monitor page; failed";
  } else if (monitored_open_ > 0) {
    why = "MODIFY_CONNECTION while a monitored channel is open; failed";
  } else if (p2c != 0 && params_.monitor_latency.ps() > 0) {
    pages.emplace(mem_, p2c, c2p, params_.monitor_latency);
    if (!pages->usable()) why = "MODIFY_CONNECTION monitor pages are not two distinct page-aligned RAM pages; failed";
  }
  if (why) {
    protocol_error(now, why, {TraceField::hex("parent_to_child", p2c), TraceField::hex("child_to_parent", c2p)});
  } else {
    monitor_.reset();
    if (pages) {
      for (auto& [relid, c] : channels_)
        if (c->monitor_id) pages->claim(*c->monitor_id, c->connection_id());
      monitor_.emplace(std::move(*pages));
    }
    tracer_.emit(TracePoint::kVmbusChannel, now, kNoVp,
                 {TraceField::str_("state", "connection_modified"), TraceField::hex("parent_to_child", p2c),
                  TraceField::hex("child_to_parent", c2p), TraceField::boolean("monitor_pages", monitor_.has_value())});
  }
  ModifyConnectionResponse r = header_only<ModifyConnectionResponse>(MsgType::kModifyConnectionResponse);
  r.connection_state = why ? 2 : 0;
  send(r, now);
}

// §5.6 step 9: everything closes; UNLOAD_RESPONSE goes to the connect VP (reply_to_ survives).
void VmbusHost::on_unload(VirtualTime now) {
  if (conn_->version < kVersionWin7) {
    protocol_error(now, "UNLOAD at version 0.13 (the message exists from 1.1 on); ignored");
    return;
  }
  disconnect(now);
  tracer_.emit(TracePoint::kVmbusChannel, now, static_cast<int>(reply_to_->vp), {TraceField::str_("state", "unloaded")});
  send(header_only<MsgHeader>(MsgType::kUnloadResponse), now);
}

}  // namespace hvsim::vmbus
