/* vmbus_malformed.elf - how the VMBus library copes with a host that lies while the guest waits.
 *
 * For the catalogue scenarios scenarios/vmbus/short_packet*.json, which write malformed packets
 * into the `test` device's host->guest ring (`inject_packet`, one at a time, 1 ms apart), and
 * scenarios/vmbus/message_rewritten_after_type_read.json, which rewrites a control message in the
 * SynIC slot; each ends with one good in-band packet (trans_id GOOD_TRANS_ID, payload "GOOD", the
 * number of malformed packets sent before it as a little-endian u32, then the bytes 0x10..0x27).
 *
 * The guest opens the test channel (2 pages per direction), fills the whole inbound data area with
 * CANARY bytes (the host has written nothing yet, so any canary byte the library later hands out
 * was read beyond what the host wrote), prints READY_LINE (the scenarios' trigger), then halts
 * until the good packet arrives: the channel callback runs meanwhile, but the main context
 * processes no control message (vt_wait waits on the ring only); those wait in the library until
 * the vmbus_poll after the wait. The channel callback stops reading at the first anomaly (an
 * error, or any packet but the good one and the echo). It exits 0 only if:
 *   1. no malformed packet reached the callback (the library never returned one);
 *   2. vmbus_recv reported no error and the channel is not marked broken;
 *   3. the good packet arrived intact (type in-band, trans_id, 32 bytes as sent);
 *   4. the library's malformed-packet counter (ch->in.malformed) equals the count the good packet
 *      announces: every bad packet was dropped, none swallowed the good one;
 *   5. an echo still round-trips (the inbound ring is in step with the host);
 *   6. the channel closes and UNLOAD is answered (a rescind of the test channel fails 5 and 6).
 * Run: hvsim scenario scenarios/vmbus/short_packet.json
 */
#include "vmbus_testlib.h"

#define RING_PAGES 2u
#define RX_MAX 4096u
#define CANARY 0xC5u
#define GOOD_TRANS_ID 0x600Du
#define GOOD_LEN 32u
#define ECHO_TRANS_ID 0xEC40u
#define ECHO_LEN 40u
#define WAIT_US 1000000u
#define READY_LINE "vmbus_malformed: ready"

struct rx {
    volatile uint32_t count;
    struct vmbus_packet pkt;
    uint8_t data[RX_MAX];
};

static struct rx good, echo;
static uint8_t rx_buf[RX_MAX];
static volatile uint32_t stopped, unexpected, errors;
static int last_error;
static struct vmbus_packet unexpected_pkt;
static uint32_t unexpected_canary;

static void keep(struct rx *slot, const struct vmbus_packet *pkt)
{
    slot->pkt = *pkt;
    memcpy(slot->data, rx_buf, pkt->len);
    slot->count++;
}

static void on_packets(struct vmbus_channel *ch)
{
    while (!stopped) {
        struct vmbus_packet pkt;
        int r = vmbus_recv(ch, &pkt, rx_buf, sizeof(rx_buf));
        if (r == 0)
            return;
        if (r < 0) {
            errors++;
            last_error = r;
            stopped = 1;
        } else if (pkt.trans_id == GOOD_TRANS_ID && !good.count) {
            keep(&good, &pkt);
        } else if (pkt.trans_id == ECHO_TRANS_ID && !echo.count) {
            keep(&echo, &pkt);
        } else {
            unexpected++;
            unexpected_pkt = pkt;
            for (uint32_t i = 0; i < pkt.len; i++)
                unexpected_canary += rx_buf[i] == CANARY;
            stopped = 1;
        }
    }
}

static int arrived_or_stopped(void *p)
{
    return ((struct rx *)p)->count || stopped;
}

static int good_intact(uint32_t *announced)
{
    const struct rx *g = &good;
    *announced = 0;
    if (!g->count || g->pkt.type != VM_PKT_DATA_INBAND || g->pkt.len != GOOD_LEN || memcmp(g->data, "GOOD", 4))
        return 0;
    memcpy(announced, g->data + 4, sizeof(*announced));
    for (uint32_t i = 8; i < GOOD_LEN; i++)
        if (g->data[i] != (uint8_t)(0x10u + i - 8u))
            return 0;
    return 1;
}

static int echo_round_trip(struct vmbus_channel *ch)
{
    uint8_t payload[ECHO_LEN];
    for (uint32_t i = 0; i < ECHO_LEN; i++)
        payload[i] = (uint8_t)(0xA0u + i);
    if (stopped || vmbus_send(ch, VM_PKT_DATA_INBAND, 0, ECHO_TRANS_ID, payload, ECHO_LEN) != 0)
        return 0;
    vt_wait(arrived_or_stopped, &echo, WAIT_US);
    return echo.count && echo.pkt.type == VM_PKT_DATA_INBAND && echo.pkt.len == ECHO_LEN &&
           !memcmp(echo.data, payload, ECHO_LEN);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    struct vmbus_channel *ch = vt_start("vmbus_malformed", vp, RING_PAGES, on_packets);
    if (!ch)
        return vt_finish();
    memset(ch->in.data, CANARY, ch->in.size); /* the ring is empty: nothing of the host's is lost */
    printf(READY_LINE "\n");
    vt_wait(arrived_or_stopped, &good, WAIT_US);

    CHECK(!unexpected, "no malformed packet reached the driver (%u did; the first: trans_id 0x%lx, %u bytes, %u of them "
                       "never written by the host)",
          unexpected, unexpected_pkt.trans_id, unexpected_pkt.len, unexpected_canary);
    CHECK(!errors && !ch->broken, "vmbus_recv reported no error (%d), the channel is not broken (%u)", last_error,
          ch->broken);
    uint32_t announced;
    CHECK(good_intact(&announced), "the good packet behind them arrived intact (%u received)", good.count);
    CHECK(good.count && ch->in.malformed == announced,
          "every malformed packet was dropped and counted (%u counted, the host sent %u)", ch->in.malformed,
          announced);
    CHECK(echo_round_trip(ch), "an echo still round-trips: the inbound ring is in step with the host");
    vt_stop(ch);
    return vt_finish();
}
