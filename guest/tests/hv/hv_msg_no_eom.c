/* hv_msg_no_eom.elf - the guest half of SynicQueue.ASlotFreedByAStoreIsRefilledBeforeTheGuestSleeps
 * (tests/integration/synic_queue_test.cc). It checks that hvsim retries a queued SynIC message at
 * the end of every round, even one in which the guest made no exit that touches a model: the guest
 * frees its slot with a plain store (no EOM, although msg_pending was set) and halts, and the
 * queued message must land and interrupt it. Nothing else can wake it: no timer is armed, so a
 * missed retry ends the run with the watchdog verdict.
 *
 * Deliberately outside the hv_test framework, whose interrupt handler reads TIME_REF_COUNT and the
 * TSC (exits that would hide the case): the handler here only counts and writes the x2APIC EOI.
 * VP 0 enables SCONTROL, SIMP and SINT 5 (vector 0x55) and halts. The host posts two messages at
 * 1 ms (8-byte payloads 0 and 1): the first takes the slot and interrupts, the second waits in the
 * queue. Exit 0 when message 1 arrived in the slot after the store; 1 if message 0 was not as
 * expected; 2 if the slot holds something else after the second interrupt.
 */
#include "hvsim_guest.h"
#include "hvsim/hyperv.h"

#define MSR_X2APIC_EOI 0x80Bu
#define SINT 5u
#define VECTOR 0x55u

static struct hv_message simp[16] __attribute__((aligned(4096)));
static volatile uint32_t irqs;

static void on_sint(struct trap_frame *tf)
{
    (void)tf;
    irqs++;
    wrmsr(MSR_X2APIC_EOI, 0);
}

static void sleep_while(uint32_t count)
{
    while (irqs == count)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    idt_install();
    idt_set_handler(VECTOR, on_sint);
    x2apic_enable();
    wrmsr(HV_MSR_SIMP, (uint64_t)(uintptr_t)simp | HV_PAGE_ENABLE);
    wrmsr(HV_MSR_SINT(SINT), VECTOR);
    wrmsr(HV_MSR_SCONTROL, 1);

    struct hv_message *slot = &simp[SINT];
    sleep_while(0);
    if (slot->type == HVMSG_NONE || slot->payload[0] != 0 || !(slot->flags & HV_MSG_FLAG_PENDING)) {
        printf("hv_msg_no_eom: FAIL: message 0 with msg_pending expected (type 0x%x, seq %lu, flags 0x%x)\n",
               slot->type, slot->payload[0], slot->flags);
        return 1;
    }
    slot->type = HVMSG_NONE; /* freed by a store; no EOM */
    sleep_while(1);
    if (slot->type == HVMSG_NONE || slot->payload[0] != 1) {
        printf("hv_msg_no_eom: FAIL: message 1 expected (type 0x%x, seq %lu)\n", slot->type, slot->payload[0]);
        return 2;
    }
    printf("hv_msg_no_eom: message 1 arrived after the slot was freed without EOM\n");
    return 0;
}
