/* vmbus_chatty.elf - a deliberately badly behaved guest, for the host's interrupt throttling.
 *
 * It opens the `test` channel and sends PACKETS small in-band packets, and after every single
 * write it signals the host (HvCallSignalEvent), ignoring hv_signal_on_write: almost all of those
 * signals are unnecessary (the ring was not empty, or the host had masked interrupts). It prints
 * how many signals it sent and how many the signalling rule would have sent, and checks that
 * every echo still arrives intact and in order (throttling may delay the guest, never lose data).
 * Run: hvsim run --guest vmbus_chatty.elf --vcpus 2 --vmbus-devices test [--throttle N/WIN/SUS]
 */
#include "vmbus_testlib.h"

#define RING_PAGES 2u
#define PACKETS 1000u
#define PAYLOAD 24u
#define WAIT_US 5000000u

static volatile uint32_t received, out_of_order;
static uint8_t payload[PAYLOAD];

static void on_packets(struct vmbus_channel *ch)
{
    struct vmbus_packet pkt;
    uint8_t buf[64];
    int r;
    while ((r = vmbus_recv(ch, &pkt, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            out_of_order++;
            if (r == VMBUS_EPROTO)
                return;
            continue;
        }
        uint64_t want = received + 1;
        out_of_order += pkt.type != VM_PKT_DATA_INBAND || pkt.trans_id != want || pkt.len != PAYLOAD ||
                        memcmp(buf, payload, PAYLOAD) != 0;
        received++;
    }
}

static int all_back(void *arg)
{
    (void)arg;
    return received >= PACKETS;
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    struct vmbus_channel *ch = vt_start("vmbus_chatty", vp, RING_PAGES, on_packets);
    if (!ch)
        return vt_finish();
    for (uint32_t i = 0; i < PAYLOAD; i++)
        payload[i] = (uint8_t)(0xC0 + i);
    uint32_t sent = 0, signals = 0, failures = 0;
    uint64_t t0 = hv_time_ref_count();
    for (uint64_t id = 1; id <= PACKETS; id++) {
        if (vmbus_send_wait(ch, VM_PKT_DATA_INBAND, 0, id, payload, PAYLOAD, WAIT_US) != 0) {
            failures++;
            break;
        }
        sent++;
        signals += vmbus_signal_host(ch) == VMBUS_OK; /* the bad habit under test */
    }
    int done = vt_wait(all_back, 0, WAIT_US);
    uint64_t t1 = hv_time_ref_count();
    printf("# %u packets, %u signals sent, %u needed by hv_signal_on_write, %lu us\n", sent, signals,
           ch->intr_out_empty, (t1 - t0) / 10);
    CHECK(sent == PACKETS && failures == 0, "all %u packets written (%u)", PACKETS, sent);
    CHECK(signals == sent, "every write was followed by a successful HvCallSignalEvent (%u)", signals);
    CHECK(done && received == PACKETS && out_of_order == 0, "every echo arrived, in order (%u, %u bad)", received,
          out_of_order);
    vt_stop(ch);
    return vt_finish();
}
