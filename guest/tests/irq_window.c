/* irq_window.elf - an interrupt that waits for IF=1 is taken at the exact instruction boundary
 * where the window opens (SDM: after the instruction following STI; right after POPF), never
 * inside an STI shadow. The guest raises vector 0x40 to itself through the x2APIC SELF IPI
 * register with interrupts disabled, then:
 *   1. `sti; cli`       the CLI is in the STI shadow: no interrupt (exit 1 if taken);
 *   2. `sti; nop; cli`  taken after the NOP, with the frame's RIP at the CLI (exit 2 otherwise);
 *   3. a second self IPI, then `popfq` setting IF; `cli`: taken with RIP at the CLI (exit 3).
 * Exits 0 and prints "irq_window: ok". Integration test: Machine.InterruptWindowOpensAtTheExactBoundary. */
#include "hvsim_guest.h"

#define MSR_X2APIC_EOI 0x80B
#define MSR_X2APIC_SELF_IPI 0x83F
#define VECTOR 0x40

static volatile uint32_t taken;
static volatile uint64_t taken_rip;

static void on_irq(struct trap_frame *tf)
{
    taken++;
    taken_rip = tf->rip;
    wrmsr(MSR_X2APIC_EOI, 0);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    idt_install();
    idt_set_handler(VECTOR, on_irq);
    x2apic_enable();

    wrmsr(MSR_X2APIC_SELF_IPI, VECTOR);
    __asm__ volatile("sti\n\tcli" ::: "memory");
    if (taken) {
        printf("irq_window: FAIL: taken inside the STI shadow (rip 0x%lx)\n", taken_rip);
        return 1;
    }

    uint64_t at;
    __asm__ volatile("sti\n\tnop\n1:\tcli\n\tlea 1b(%%rip), %0" : "=r"(at) : : "memory");
    if (taken != 1 || taken_rip != at) {
        printf("irq_window: FAIL: after sti; nop: %u taken, rip 0x%lx, want 1 at 0x%lx\n", taken, taken_rip, at);
        return 2;
    }

    wrmsr(MSR_X2APIC_SELF_IPI, VECTOR);
    __asm__ volatile("pushfq\n\torq $0x200, (%%rsp)\n\tpopfq\n1:\tcli\n\tlea 1b(%%rip), %0" : "=r"(at) : : "memory", "cc");
    if (taken != 2 || taken_rip != at) {
        printf("irq_window: FAIL: after popfq: %u taken, rip 0x%lx, want 2 at 0x%lx\n", taken, taken_rip, at);
        return 3;
    }
    printf("irq_window: ok\n");
    return 0;
}
