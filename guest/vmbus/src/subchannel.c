/* subchannel.c - sub-channels and their primaries (PROTOCOL.md §5.4, §5.6 step 6, §10.2).
 *
 * A sub-channel offer (sub_channel_index > 0) shares class and instance GUIDs with its primary.
 * When it is kept, vmbus_sub_channel_attach() finds the live (not rescinded) primary with both
 * GUIDs and links the sub-channel into the primary's list, kept in sub_channel_index order; one
 * with no such primary is a protocol error and stays in the table unlinked (primary = 0) until
 * the host rescinds it. When a channel leaves the table, vmbus_sub_channel_detach() unlinks it
 * from its primary, or, for a primary, leaves its remaining sub-channels without one.
 * The list is written by the main context only. Opening, closing and rescind clean-up are
 * channel.c's and offers.c's.
 */
#include "internal.h"

void vmbus_sub_channel_attach(struct vmbus_channel *ch)
{
    struct vmbus_channel *primary = 0, *c;
    for (uint32_t i = 0; !primary && (c = vmbus_channel_at(i)) != 0; i++)
        if (c != ch && c->state != VMBUS_CH_FREE && c->sub_channel_index == 0 && !c->rescinded &&
            vmbus_guid_equal(&c->if_type, &ch->if_type) && vmbus_guid_equal(&c->if_instance, &ch->if_instance))
            primary = c;
    ch->primary = primary;
    ch->next_sub = 0;
    if (!primary) {
        vmbus_protocol_error("sub-channel offer with no primary channel, relid", ch->relid);
        return;
    }
    struct vmbus_channel **link = &primary->sub_channels;
    while (*link && (*link)->sub_channel_index <= ch->sub_channel_index)
        link = &(*link)->next_sub;
    ch->next_sub = *link;
    *link = ch;
}

void vmbus_sub_channel_detach(struct vmbus_channel *ch)
{
    if (ch->primary) {
        struct vmbus_channel **link = &ch->primary->sub_channels;
        while (*link && *link != ch)
            link = &(*link)->next_sub;
        if (*link)
            *link = ch->next_sub;
    }
    ch->primary = 0;
    ch->next_sub = 0;
    struct vmbus_channel *sc = ch->sub_channels;
    while (sc) {
        struct vmbus_channel *next = sc->next_sub;
        sc->primary = 0;
        sc->next_sub = 0;
        sc = next;
    }
    ch->sub_channels = 0;
}

void vmbus_set_sc_create_callback(struct vmbus_channel *primary, vmbus_callback_t cb)
{
    primary->sc_create_callback = cb;
}

void vmbus_set_chn_rescind_callback(struct vmbus_channel *ch, vmbus_callback_t cb)
{
    ch->rescind_callback = cb;
}
