/* ring.c - guest side of one VMBus ring buffer (PROTOCOL.md §6.1-6.4, §8).
 *
 * Producer (outbound ring): the write index is kept privately and only ever stored, never read
 * back; the host's read_index is validated (< size, multiple of 8) before use. A packet is
 * written only if the free space is strictly greater than its size, so a full ring never looks
 * empty. After publishing, hv_signal_on_write decides: signal only if interrupt_mask == 0 and the
 * host's read_index equals the old write index (the ring was empty).
 * Consumer (inbound ring): the host's write_index is validated (< size, multiple of 8; a bad one
 * returns VMBUS_EPROTO: the ring cannot be trusted any more). Each descriptor is copied out of the
 * ring once and its len8/offset8 are checked against the bytes actually available, as Linux's
 * hardened hv_pkt_iter_first does; a packet that lies is dropped and counted (`malformed`), never
 * read past, and never handed to the caller:
 *   - fewer bytes than a descriptor and its trailer, len8*8 < 16, or len8*8 + trailer beyond the
 *     bytes available: where the next packet starts is unknown, so every available byte goes
 *     (Linux likewise takes such a packet to span all available bytes);
 *   - offset8*8 < 16 or > len8*8 (len8 is sound): that one packet goes (Linux substitutes 16).
 * Commit stores read_index, then applies the pending_send_sz rule: signal only when the free space
 * moved from <= pending_send_sz to > pending_send_sz in this batch, and only if feature bit b0 is set.
 */
#include "hvsim/string.h"
#include "internal.h"

#define MAX_PACKET_LEN (0xFFFFu * 8u) /* len8 is a u16 */

void vmbus_ring_init(struct vmbus_ring *r, uint8_t *pages, uint32_t page_count)
{
    memset(pages, 0, (uint64_t)page_count * VMBUS_PAGE_SIZE);
    r->ctl = (struct vmbus_ring_control *)pages;
    r->data = pages + VMBUS_PAGE_SIZE;
    r->size = (page_count - 1) * VMBUS_PAGE_SIZE;
    r->priv = 0;
    r->batch = 0;
    r->malformed = 0;
    r->ctl->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

static int index_ok(const struct vmbus_ring *r, uint32_t index)
{
    return index < r->size && (index & 7u) == 0;
}

/* Bytes from `from` up to `to` going forward around the ring. */
static uint32_t distance(const struct vmbus_ring *r, uint32_t from, uint32_t to)
{
    return to >= from ? to - from : r->size - from + to;
}

/* The position `n` (<= size) bytes after `pos`, around the ring. */
static uint32_t advance(const struct vmbus_ring *r, uint32_t pos, uint32_t n)
{
    pos += n;
    return pos >= r->size ? pos - r->size : pos;
}

static uint32_t copy_in(struct vmbus_ring *r, uint32_t pos, const void *src, uint32_t n)
{
    uint32_t first = r->size - pos < n ? r->size - pos : n;
    memcpy(r->data + pos, src, first);
    memcpy(r->data, (const uint8_t *)src + first, n - first);
    return advance(r, pos, n);
}

static void copy_out(const struct vmbus_ring *r, uint32_t pos, void *dst, uint32_t n)
{
    uint32_t first = r->size - pos < n ? r->size - pos : n;
    memcpy(dst, r->data + pos, first);
    memcpy((uint8_t *)dst + first, r->data, n - first);
}

uint32_t vmbus_packet_total(uint32_t payload_len)
{
    return ((uint32_t)sizeof(struct vmbus_packet_desc) + payload_len + 7u) / 8u * 8u + VMBUS_PACKET_TRAILER;
}

int64_t vmbus_ring_free(const struct vmbus_ring *r)
{
    uint32_t rd = r->ctl->read_index;
    if (!index_ok(r, rd))
        return VMBUS_EPROTO;
    return (int64_t)r->size - distance(r, rd, r->priv);
}

int vmbus_ring_write(struct vmbus_ring *r, const struct vmbus_packet_desc *d, const void *payload, uint32_t len,
                     int *signal)
{
    static const uint8_t zeros[8];
    *signal = 0;
    if (len > MAX_PACKET_LEN || len >= r->size)
        return VMBUS_EINVAL;
    uint32_t packet = (uint32_t)sizeof(*d) + len;
    uint32_t padded = (packet + 7u) / 8u * 8u;
    uint32_t total = padded + VMBUS_PACKET_TRAILER;
    if (padded / 8u > 0xFFFFu)
        return VMBUS_EINVAL;
    int64_t free_bytes = vmbus_ring_free(r);
    if (free_bytes < 0)
        return (int)free_bytes;
    if ((uint64_t)free_bytes <= total)
        return VMBUS_EAGAIN;

    uint32_t old_write = r->priv;
    struct vmbus_packet_desc desc = *d;
    desc.len8 = (uint16_t)(padded / 8u);
    uint64_t trailer = (uint64_t)old_write << 32;
    uint32_t pos = copy_in(r, old_write, &desc, sizeof(desc));
    pos = copy_in(r, pos, payload, len);
    pos = copy_in(r, pos, zeros, padded - packet);
    pos = copy_in(r, pos, &trailer, sizeof(trailer));
    vmbus_mb(); /* packet visible before the index */
    r->ctl->write_index = pos;
    r->priv = pos;
    vmbus_mb(); /* index visible before reading the host's mask and read index */
    if (r->ctl->interrupt_mask)
        return 0;
    vmbus_barrier();
    *signal = r->ctl->read_index == old_write;
    return 0;
}

int vmbus_ring_has_data(const struct vmbus_ring *r)
{
    uint32_t w = r->ctl->write_index;
    if (!index_ok(r, w))
        return VMBUS_EPROTO;
    return w != r->priv;
}

/* Moves the private read position past `n` bytes (freed for the host at the next commit). */
static void consume(struct vmbus_ring *r, uint32_t n)
{
    r->priv = advance(r, r->priv, n);
    r->batch += n;
}

/* Drops `n` bytes of a malformed packet. */
static void drop_malformed(struct vmbus_ring *r, uint32_t n)
{
    consume(r, n);
    r->malformed++;
}

int vmbus_ring_read(struct vmbus_ring *r, struct vmbus_packet *pkt, void *buf, uint32_t buflen)
{
    for (;;) {
        uint32_t w = r->ctl->write_index;
        if (!index_ok(r, w))
            return VMBUS_EPROTO;
        uint32_t avail = distance(r, r->priv, w);
        if (!avail)
            return 0;
        vmbus_barrier(); /* index read before the packet */
        struct vmbus_packet_desc d;
        if (avail < sizeof(d) + VMBUS_PACKET_TRAILER) {
            drop_malformed(r, avail);
            continue;
        }
        copy_out(r, r->priv, &d, sizeof(d)); /* len8 and offset8 are read once, from this copy */
        uint32_t packet = (uint32_t)d.len8 * 8u, offset = (uint32_t)d.offset8 * 8u;
        int len_ok = packet >= sizeof(d) && packet + VMBUS_PACKET_TRAILER <= avail;
        int offset_ok = offset >= sizeof(d) && offset <= packet;
#ifdef HVSIM_BUGGY_TRUST_PACKET_LENGTH
        len_ok = offset_ok = 1; /* deliberate bug for guest/buggy: the descriptor is trusted */
#endif
        if (!len_ok || !offset_ok) {
            drop_malformed(r, len_ok ? packet + VMBUS_PACKET_TRAILER : avail);
            continue;
        }
        uint32_t payload = packet - offset;
        int result = 1;
        if (payload > buflen)
            result = VMBUS_EMSGSIZE;
        else
            copy_out(r, advance(r, r->priv, offset), buf, payload);
        pkt->type = d.type;
        pkt->flags = d.flags;
        pkt->trans_id = d.trans_id;
        pkt->len = result == 1 ? payload : 0;
        consume(r, packet + VMBUS_PACKET_TRAILER);
        return result;
    }
}

int vmbus_ring_commit(struct vmbus_ring *r)
{
    uint32_t consumed = r->batch;
    if (!consumed)
        return 0;
    r->batch = 0;
    vmbus_barrier(); /* packet reads done before the index store */
    r->ctl->read_index = r->priv;
    vmbus_mb(); /* index store before reading pending_send_sz */
    if (!(r->ctl->feature_bits & VMBUS_RING_FEAT_PENDING_SEND_SZ))
        return 0;
    uint32_t pending = r->ctl->pending_send_sz;
    if (!pending)
        return 0;
    vmbus_barrier();
    uint32_t w = r->ctl->write_index;
    if (!index_ok(r, w))
        return 0;
    uint32_t free_now = r->size - distance(r, r->priv, w);
    if (free_now <= pending)
        return 0;
    if (consumed < free_now && free_now - consumed > pending)
        return 0; /* the producer could already proceed before this batch */
    return 1;
}
