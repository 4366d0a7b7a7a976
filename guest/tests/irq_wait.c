/* irq_wait.elf - installs an IDT handler for vector 0x40, software-enables its local APIC (x2APIC
 * mode, SVR bit 8), enables interrupts and halts until the host delivers the vector (integration
 * test of external-interrupt delivery through the local APIC and HLT wake-up). The handler
 * writes EOI. Exits 0 once the handler ran, 1 if HLT returned without it. */
#include "hvsim_guest.h"

static volatile int taken;

#define MSR_X2APIC_EOI 0x80B

static void on_irq(struct trap_frame *tf)
{
    taken = (int)tf->vector;
    wrmsr(MSR_X2APIC_EOI, 0);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    idt_install();
    idt_set_handler(0x40, on_irq);
    x2apic_enable();
    for (int i = 0; i < 4 && !taken; i++)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    if (!taken) {
        printf("irq_wait: woke without the interrupt\n");
        return 1;
    }
    printf("irq 0x%x taken\n", taken);
    return 0;
}
