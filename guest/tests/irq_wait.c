/* irq_wait.elf - installs an IDT handler for vector 0x40, enables interrupts and halts until the
 * host delivers it (integration test of external-interrupt delivery and HLT wake-up). Exits 0
 * once the handler ran, 1 if HLT returned without it. */
#include "hvsim_guest.h"

static volatile int taken;

static void on_irq(struct trap_frame *tf)
{
    taken = (int)tf->vector;
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    idt_install();
    idt_set_handler(0x40, on_irq);
    for (int i = 0; i < 4 && !taken; i++)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    if (!taken) {
        printf("irq_wait: woke without the interrupt\n");
        return 1;
    }
    printf("irq 0x%x taken\n", taken);
    return 0;
}
