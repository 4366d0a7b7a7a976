/* hv_msg_queue.elf - the guest half of a machine-level test of the SynIC message queue (PROTOCOL
 * 4.1, 4.4); the host half is tests/integration/synic_queue_test.cc, which posts messages to this
 * VP from host events. Alone (no host posts) it fails.
 *
 * VP 0 enables SCONTROL, SIMP and SIEFP and unmasks SINT 5 with vector 0x55, then leaves the slot
 * alone until TIME_REF_COUNT reaches 4 ms. At 2 ms the host posts a burst of 20 messages (type 1,
 * 8-byte payload = sequence number 0..19): the first lands in the free slot, 16 wait in the SINT's
 * queue, the last 3 are refused (queue full, the sender keeps them). At 4 ms the guest checks the
 * slot (message 0 with msg_pending set: more wait), then consumes: copy, type = NONE, EOM when
 * msg_pending was set (4.4 guest steps), and waits for the next. At 6 ms the host posts one more
 * message (sequence 100) after the queue has drained. Checks: 18 messages, sequence 0..16 then
 * 100 (in order, none of the refused ones), msg_pending set on the first 16 and clear on the
 * 17th and the late one, exactly one SINT interrupt per message (each taken before the EOM that
 * brings the next). Prints "seq: ..." with what arrived.
 * Run (with the host side): the ctest SynicQueue.*
 */
#include "hv_test.h"

#define QUEUE_SINT 5u
#define QUEUE_VECTOR 0x55u
#define CONSUME_FROM_REF 40000u /* 4 ms in 100 ns units: the host's burst came at 2 ms */
#define WAIT_US 3000u           /* bound on each wait for a message */
#define BURST_DELIVERED 17u     /* one in the slot + 16 queued */
#define LATE_SEQ 100u
#define MAX_MSGS 32u

static uint64_t gpa(volatile void *p) { return (uint64_t)(uintptr_t)p; }

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    hvt_init("hv_msg_queue", vp);
    if (vp != 0)
        hvt_ap_main();

    struct hv_message *page = hvt_alloc_page();
    volatile uint64_t *ef = hvt_alloc_page();
    uint32_t f = hvt_wrmsr_safe(HV_MSR_SIMP, gpa(page) | HV_PAGE_ENABLE);
    f |= hvt_wrmsr_safe(HV_MSR_SIEFP, gpa(ef) | HV_PAGE_ENABLE);
    f |= hvt_wrmsr_safe(HV_MSR_SINT(QUEUE_SINT), QUEUE_VECTOR);
    f |= hvt_wrmsr_safe(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
    CHECK(f == 0, "SIMP, SIEFP, SINT%u (vector 0x%x) and SCONTROL enabled (faults 0x%x)", QUEUE_SINT, QUEUE_VECTOR, f);

    volatile uint32_t *irqs = &hvt_irq[0].count[QUEUE_VECTOR];
    struct hv_message *slot = &page[QUEUE_SINT];
    int reached = hvt_wait_ref(CONSUME_FROM_REF, 10000);
    CHECK(reached && slot->type == 1 && slot->payload[0] == 0 && (slot->flags & HV_MSG_FLAG_PENDING) && *irqs == 1,
          "at 4 ms: the burst's first message (type 0x%x, seq %lu) waits in the slot with msg_pending (flags 0x%x), "
          "%u interrupt(s)",
          slot->type, slot->payload[0], slot->flags, *irqs);

    uint64_t seq[MAX_MSGS];
    uint8_t pending[MAX_MSGS];
    unsigned n = 0;
    /* Interrupt-driven: message n is taken once its own SINT interrupt has come (the consume runs
     * with IF = 0, so waiting on the slot alone could merge two interrupts in the IRR). */
    while (n < MAX_MSGS && HVT_WAIT(*irqs > n && slot->type != HVMSG_NONE, WAIT_US)) {
        seq[n] = slot->payload[0];
        pending[n] = slot->flags & HV_MSG_FLAG_PENDING;
        n++;
        hvt_msg_consume(slot);
    }
    printf("# seq:");
    for (unsigned i = 0; i < n; i++)
        printf(" %lu%s", seq[i], pending[i] ? "p" : "");
    printf("\n");

    unsigned order = 0, flags = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t want = i < BURST_DELIVERED ? i : LATE_SEQ;
        order += seq[i] != want;
        flags += pending[i] != (i + 1 < BURST_DELIVERED ? HV_MSG_FLAG_PENDING : 0);
    }
    CHECK(n == BURST_DELIVERED + 1 && order == 0,
          "%u messages arrived: sequence 0..16 in order after each EOM, then the late %u (%u out of place)", n, LATE_SEQ,
          order);
    CHECK(flags == 0, "msg_pending set while more waited (first 16), clear on the 17th and the late one (%u wrong)",
          flags);
    CHECK(*irqs == n, "one SINT%u interrupt per message (%u interrupts, %u messages)", QUEUE_SINT, *irqs, n);
    return hvt_finish();
}
