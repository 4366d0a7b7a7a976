/* vmbus_many_channels.elf - the guest library with every channel slot in use (VMBUS_MAX_CHANNELS).
 *
 * Connects, requests offers and opens every offered `test` channel with RING_PAGES pages per
 * direction, interrupts on VP 0 (one VP). Checks:
 *   1. every test channel opens; their relids are distinct;
 *   2. ROUNDS rounds of one packet per channel (trans_id = channel index << 32 | round, payload
 *      derived from trans_id): every echo comes back intact, in order, in the callback of its own
 *      channel (the callback's context is the channel's index: an echo dispatched through a wrong
 *      relid -> slot mapping is caught);
 *   3. every channel closes (ring GPADL torn down) and UNLOAD is answered.
 * Prints "vmbus_many_channels: N test channels opened" (the integration test compares N with the
 * devices it offered), ok/FAIL lines, and exits 0 only if every check passed. Run:
 *   hvsim run --guest vmbus_many_channels.elf --vmbus-devices test:t0,test:t1,...,test:t255
 */
#include "vmbus_testlib.h"

#define MAX_TEST_CHANNELS 256u /* the library's VMBUS_MAX_CHANNELS */
#define RING_PAGES 2u
#define ROUNDS 3u
#define PAYLOAD 24u
#define WAIT_US 1000000u

struct test_channel {
    struct vmbus_channel *ch;
    uint32_t index;
    volatile uint32_t received, bad;
};

static struct test_channel chans[MAX_TEST_CHANNELS];
static uint32_t count;

static uint8_t pattern(uint64_t trans_id, uint32_t i)
{
    return (uint8_t)(trans_id * 13u + i * 5u + (trans_id >> 32));
}

static void on_packets(struct vmbus_channel *ch)
{
    struct test_channel *c = ch->context;
    uint8_t buf[PAYLOAD + 8];
    struct vmbus_packet pkt;
    int r;
    while ((r = vmbus_recv(ch, &pkt, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            c->bad++;
            if (r == VMBUS_EPROTO)
                return;
            continue;
        }
        int ok = pkt.type == VM_PKT_DATA_INBAND && pkt.trans_id >> 32 == c->index &&
                 (uint32_t)pkt.trans_id == c->received && pkt.len == PAYLOAD;
        for (uint32_t i = 0; ok && i < PAYLOAD; i++)
            ok = buf[i] == pattern(pkt.trans_id, i);
        c->bad += !ok;
        c->received++;
    }
}

static int round_done(void *p)
{
    uint32_t want = *(uint32_t *)p;
    for (uint32_t k = 0; k < count; k++)
        if (chans[k].received < want)
            return 0;
    return 1;
}

/* Opens every offered test channel; returns how many failed. */
static uint32_t open_all(void)
{
    static const struct vmbus_guid test_class =
        VMBUS_GUID(0xb7a3a6ad, 0x5f26, 0x4e8b, 0x9b, 0x1d, 0x68, 0x76, 0x73, 0x6d, 0x00, 0x01);
    uint32_t failures = 0;
    struct vmbus_channel *ch;
    for (uint32_t i = 0; (ch = vmbus_channel_at(i)) != 0 && count < MAX_TEST_CHANNELS; i++) {
        if (ch->state != VMBUS_CH_OFFERED || !vmbus_guid_equal(&ch->if_type, &test_class))
            continue;
        struct test_channel *c = &chans[count];
        c->ch = ch;
        c->index = count;
        int r = vmbus_open(ch, RING_PAGES, vt_vp_index[0], on_packets, c);
        if (r) {
            printf("# open of relid %u failed (%d)\n", ch->relid, r);
            failures++;
            continue;
        }
        count++;
    }
    return failures;
}

static uint32_t duplicate_relids(void)
{
    uint32_t dups = 0;
    for (uint32_t a = 0; a < count; a++)
        for (uint32_t b = a + 1; b < count; b++)
            dups += chans[a].ch->relid == chans[b].ch->relid;
    return dups;
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (!vt_offer("vmbus_many_channels", vp))
        return vt_finish();
    uint32_t failures = open_all();
    printf("vmbus_many_channels: %u test channels opened\n", count);
    CHECK(failures == 0 && count > 0, "every test channel opened (%u, %u failures)", count, failures);
    CHECK(duplicate_relids() == 0, "their relids are distinct");
    sti();

    uint8_t payload[PAYLOAD];
    uint32_t send_failures = 0;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        for (uint32_t k = 0; k < count; k++) {
            uint64_t trans_id = (uint64_t)k << 32 | round;
            for (uint32_t i = 0; i < PAYLOAD; i++)
                payload[i] = pattern(trans_id, i);
            send_failures += vmbus_send(chans[k].ch, VM_PKT_DATA_INBAND, 0, trans_id, payload, PAYLOAD) != 0;
        }
        uint32_t want = round + 1;
        if (!vt_wait(round_done, &want, WAIT_US))
            break;
    }
    uint32_t received = 0, bad = 0;
    for (uint32_t k = 0; k < count; k++) {
        received += chans[k].received;
        bad += chans[k].bad;
    }
    CHECK(send_failures == 0 && received == ROUNDS * count && bad == 0,
          "%u rounds echoed on every channel (%u of %u echoes, %u bad, %u send failures)", ROUNDS, received,
          ROUNDS * count, bad, send_failures);

    uint32_t close_failures = 0;
    for (uint32_t k = 0; k < count; k++)
        close_failures += vmbus_close(chans[k].ch) != 0;
    CHECK(close_failures == 0, "every channel closed, ring GPADLs torn down (%u failures)", close_failures);
    int r = vmbus_unload();
    CHECK(r == 0, "UNLOAD answered (%d)", r);
    return vt_finish();
}
