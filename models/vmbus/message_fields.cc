// Field tables of the channel messages (message_fields.h), derived from the protocol.h layouts.
#include "models/vmbus/message_fields.h"

#include <cstddef>
#include <cstring>

namespace hvsim::vmbus {

namespace {

#define HVSIM_FIELD(T, m) MessageField{#m, static_cast<uint16_t>(offsetof(T, m)), static_cast<uint8_t>(sizeof(T::m))}
#define HVSIM_HEADER                                                                                    \
  MessageField{"msgtype", 0, 4}, MessageField { "header_padding", 4, 4 }

constexpr MessageField kHeaderOnly[] = {HVSIM_HEADER};
constexpr MessageField kOffer[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(OfferChannel, reserved1),
    HVSIM_FIELD(OfferChannel, reserved2),
    HVSIM_FIELD(OfferChannel, chn_flags),
    HVSIM_FIELD(OfferChannel, mmio_megabytes),
    HVSIM_FIELD(OfferChannel, sub_channel_index),
    HVSIM_FIELD(OfferChannel, mmio_megabytes_optional),
    HVSIM_FIELD(OfferChannel, child_relid),
    HVSIM_FIELD(OfferChannel, monitorid),
    HVSIM_FIELD(OfferChannel, monitor_allocated),
    HVSIM_FIELD(OfferChannel, is_dedicated_interrupt),
    HVSIM_FIELD(OfferChannel, connection_id),
};
constexpr MessageField kRescind[] = {HVSIM_HEADER, HVSIM_FIELD(RescindChannelOffer, child_relid)};
constexpr MessageField kOpen[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(OpenChannel, child_relid),
    HVSIM_FIELD(OpenChannel, openid),
    HVSIM_FIELD(OpenChannel, ringbuffer_gpadlhandle),
    HVSIM_FIELD(OpenChannel, target_vp),
    HVSIM_FIELD(OpenChannel, downstream_ringbuffer_pageoffset),
};
constexpr MessageField kOpenResult[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(OpenChannelResult, child_relid),
    HVSIM_FIELD(OpenChannelResult, openid),
    HVSIM_FIELD(OpenChannelResult, status),
};
constexpr MessageField kClose[] = {HVSIM_HEADER, HVSIM_FIELD(CloseChannel, child_relid)};
constexpr MessageField kGpadlHeaderFields[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(GpadlHeader, child_relid),
    HVSIM_FIELD(GpadlHeader, gpadl),
    HVSIM_FIELD(GpadlHeader, range_buflen),
    HVSIM_FIELD(GpadlHeader, rangecount),
};
constexpr MessageField kGpadlBodyFields[] = {HVSIM_HEADER, HVSIM_FIELD(GpadlBody, msgnumber),
                                              HVSIM_FIELD(GpadlBody, gpadl)};
constexpr MessageField kGpadlCreatedFields[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(GpadlCreated, child_relid),
    HVSIM_FIELD(GpadlCreated, gpadl),
    HVSIM_FIELD(GpadlCreated, creation_status),
};
constexpr MessageField kGpadlTeardownFields[] = {HVSIM_HEADER, HVSIM_FIELD(GpadlTeardown, child_relid),
                                                  HVSIM_FIELD(GpadlTeardown, gpadl)};
constexpr MessageField kGpadlTorndownFields[] = {HVSIM_HEADER, HVSIM_FIELD(GpadlTorndown, gpadl)};
constexpr MessageField kReleased[] = {HVSIM_HEADER, HVSIM_FIELD(RelidReleased, child_relid)};
constexpr MessageField kInitiate[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(InitiateContact, vmbus_version_requested),
    HVSIM_FIELD(InitiateContact, target_vcpu),
    HVSIM_FIELD(InitiateContact, interrupt_page_or_sint),
    HVSIM_FIELD(InitiateContact, monitor_page1),
    HVSIM_FIELD(InitiateContact, monitor_page2),
};
constexpr MessageField kVersion[] = {
    HVSIM_HEADER,
    HVSIM_FIELD(VersionResponse, version_supported),
    HVSIM_FIELD(VersionResponse, connection_state),
    HVSIM_FIELD(VersionResponse, padding),
    HVSIM_FIELD(VersionResponse, msg_conn_id),
    MessageField{"supported_features", sizeof(VersionResponse), 4},
};
constexpr MessageField kModify[] = {HVSIM_HEADER, HVSIM_FIELD(ModifyChannel, child_relid),
                                    HVSIM_FIELD(ModifyChannel, target_vp)};
constexpr MessageField kModifyResponse[] = {HVSIM_HEADER, HVSIM_FIELD(ModifyChannelResponse, child_relid),
                                            HVSIM_FIELD(ModifyChannelResponse, status)};
constexpr MessageField kModifyConnectionFields[] = {HVSIM_HEADER,
                                                   HVSIM_FIELD(ModifyConnection, parent_to_child_monitor_page),
                                                   HVSIM_FIELD(ModifyConnection, child_to_parent_monitor_page)};
constexpr MessageField kModifyConnectionResponseFields[] = {HVSIM_HEADER,
                                                           HVSIM_FIELD(ModifyConnectionResponse, connection_state)};

#undef HVSIM_FIELD
#undef HVSIM_HEADER

}  // namespace

std::span<const MessageField> message_fields(MsgType type) {
  switch (type) {
    case MsgType::kOfferChannel: return kOffer;
    case MsgType::kRescindChannelOffer: return kRescind;
    case MsgType::kOpenChannel: return kOpen;
    case MsgType::kOpenChannelResult: return kOpenResult;
    case MsgType::kCloseChannel: return kClose;
    case MsgType::kGpadlHeader: return kGpadlHeaderFields;
    case MsgType::kGpadlBody: return kGpadlBodyFields;
    case MsgType::kGpadlCreated: return kGpadlCreatedFields;
    case MsgType::kGpadlTeardown: return kGpadlTeardownFields;
    case MsgType::kGpadlTorndown: return kGpadlTorndownFields;
    case MsgType::kRelidReleased: return kReleased;
    case MsgType::kInitiateContact: return kInitiate;
    case MsgType::kVersionResponse: return kVersion;
    case MsgType::kModifyChannel: return kModify;
    case MsgType::kModifyChannelResponse: return kModifyResponse;
    case MsgType::kModifyConnection: return kModifyConnectionFields;
    case MsgType::kModifyConnectionResponse: return kModifyConnectionResponseFields;
    default: return kHeaderOnly;
  }
}

size_t message_layout_size(MsgType type) {
  switch (type) {
    case MsgType::kOfferChannel: return sizeof(OfferChannel);
    case MsgType::kRescindChannelOffer: return sizeof(RescindChannelOffer);
    case MsgType::kOpenChannel: return sizeof(OpenChannel);
    case MsgType::kOpenChannelResult: return sizeof(OpenChannelResult);
    case MsgType::kCloseChannel: return sizeof(CloseChannel);
    case MsgType::kGpadlHeader: return sizeof(GpadlHeader);
    case MsgType::kGpadlBody: return sizeof(GpadlBody);
    case MsgType::kGpadlCreated: return sizeof(GpadlCreated);
    case MsgType::kGpadlTeardown: return sizeof(GpadlTeardown);
    case MsgType::kGpadlTorndown: return sizeof(GpadlTorndown);
    case MsgType::kRelidReleased: return sizeof(RelidReleased);
    case MsgType::kInitiateContact: return sizeof(InitiateContact);
    case MsgType::kVersionResponse: return sizeof(VersionResponse);
    case MsgType::kModifyChannel: return sizeof(ModifyChannel);
    case MsgType::kModifyChannelResponse: return sizeof(ModifyChannelResponse);
    case MsgType::kModifyConnection: return sizeof(ModifyConnection);
    case MsgType::kModifyConnectionResponse: return sizeof(ModifyConnectionResponse);
    default: return sizeof(MsgHeader);
  }
}

bool apply_message_fields(std::vector<uint8_t>& msg, MsgType type, const std::map<std::string, uint64_t>& fields,
                          std::string& error) {
  std::span<const MessageField> table = message_fields(type);
  std::vector<uint8_t> out = msg;
  for (const auto& [name, value] : fields) {
    const MessageField* f = nullptr;
    for (const MessageField& candidate : table)
      if (name == candidate.name) f = &candidate;
    if (!f) {
      std::string valid;
      for (const MessageField& candidate : table) valid += (valid.empty() ? "" : ", ") + std::string(candidate.name);
      error = "message " + std::string(msg_type_name(static_cast<uint32_t>(type))) + " has no field '" + name +
              "' (valid: " + valid + ")";
      return false;
    }
    if (f->width < 8 && value >> (8 * f->width) != 0) {
      error = "value " + std::to_string(value) + " does not fit the " + std::to_string(f->width) + "-byte field '" +
              name + "'";
      return false;
    }
    if (out.size() < size_t{f->offset} + f->width) out.resize(size_t{f->offset} + f->width, 0);
    for (uint8_t i = 0; i < f->width; ++i) out[f->offset + i] = static_cast<uint8_t>(value >> (8 * i));
  }
  msg = std::move(out);
  return true;
}

}  // namespace hvsim::vmbus
