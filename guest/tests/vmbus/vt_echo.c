/* vt_echo.c - echo checks through the hvsim `test` device (contract in vt_echo.h). */
#include "vt_echo.h"

#include "hvsim/vp.h"

struct rx {
    struct vmbus_packet pkt;
    uint8_t data[VT_ECHO_MAX_PAYLOAD + 8];
};

volatile uint32_t vt_echo_rx_errors;
volatile uint32_t vt_echo_callbacks[HVSIM_MAX_TEST_VPS];

static struct rx rx[VT_ECHO_SLOTS];
static volatile uint32_t rx_head, rx_tail;
static uint8_t tx_buf[VT_ECHO_MAX_PAYLOAD];
static uint8_t burst_buf[VT_ECHO_BURST_COUNT][VT_ECHO_BURST_SIZE];
static uint64_t trans_id = 1;

static uint8_t pattern(uint64_t id, uint32_t i)
{
    return (uint8_t)(id * 29u + i * 13u + (i >> 8));
}

static void fill(uint8_t *buf, uint64_t id, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = pattern(id, i);
}

void vt_echo_rx(struct vmbus_channel *ch)
{
    uint32_t vp = this_vp();
    if (vp < HVSIM_MAX_TEST_VPS)
        vt_echo_callbacks[vp]++;
    while (rx_tail - rx_head < VT_ECHO_SLOTS) {
        struct rx *e = &rx[rx_tail % VT_ECHO_SLOTS];
        int r = vmbus_recv(ch, &e->pkt, e->data, sizeof(e->data));
        if (r == 0)
            return;
        if (r < 0) {
            vt_echo_rx_errors++;
            if (r == VMBUS_EPROTO)
                return;
            continue;
        }
        rx_tail++;
    }
}

static int have_rx(void *p)
{
    return rx_tail - rx_head >= *(const uint32_t *)p;
}

/* Consumes the oldest received packet; 1 if it is the in-band echo of `id` with `len` bytes. */
static int echo_matches(uint64_t id, uint32_t len)
{
    const struct rx *e = &rx[rx_head++ % VT_ECHO_SLOTS];
    uint32_t padded = (len + 7u) & ~7u;
    if (e->pkt.type != VM_PKT_DATA_INBAND || e->pkt.trans_id != id || e->pkt.len != padded)
        return 0;
    for (uint32_t i = 0; i < padded; i++)
        if (e->data[i] != (i < len ? pattern(id, i) : 0))
            return 0;
    return 1;
}

static int send_one(struct vmbus_channel *ch, uint64_t id, const uint8_t *payload, uint32_t len)
{
    return vmbus_send_wait(ch, VM_PKT_DATA_INBAND, 0, id, payload, len, VT_ECHO_WAIT_US);
}

uint32_t vt_echo_one_by_one(struct vmbus_channel *ch, uint32_t count)
{
    static const uint32_t sizes[] = {8, 16, 24, 100, 240, 1000, 2040, 3000, 4000, 6000, 1, 333, 4095};
    uint32_t bad = 0;
    for (uint32_t n = 0; n < count; n++, trans_id++) {
        uint32_t len = sizes[n % (sizeof(sizes) / sizeof(sizes[0]))];
        uint32_t one = 1;
        fill(tx_buf, trans_id, len);
        int r = send_one(ch, trans_id, tx_buf, len);
        if (r != 0 || !vt_wait(have_rx, &one, VT_ECHO_WAIT_US) || !echo_matches(trans_id, len)) {
            bad++;
            printf("# packet %lu (%u bytes): send %d, no or wrong echo\n", trans_id, len, r);
        }
    }
    return bad;
}

int vt_echo_burst(struct vmbus_channel *ch)
{
    uint64_t first = trans_id;
    uint32_t sent = 0, bad = 0, all = VT_ECHO_BURST_COUNT;
    for (uint32_t n = 0; n < VT_ECHO_BURST_COUNT; n++)
        fill(burst_buf[n], first + n, VT_ECHO_BURST_SIZE);
    for (uint32_t n = 0; n < VT_ECHO_BURST_COUNT; n++, trans_id++)
        sent += send_one(ch, trans_id, burst_buf[n], VT_ECHO_BURST_SIZE) == 0;
    int got = vt_wait(have_rx, &all, VT_ECHO_WAIT_US);
    for (uint64_t id = first; got && id < trans_id; id++)
        bad += !echo_matches(id, VT_ECHO_BURST_SIZE);
    return sent == VT_ECHO_BURST_COUNT && got && bad == 0;
}
