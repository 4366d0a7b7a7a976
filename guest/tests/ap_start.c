/* ap_start.elf - for `--ap-start parked --vcpus 2`. VP 0 copies the real-mode trampoline to
 * AP_TRAMP_BASE, enables x2APIC and sends INIT then STARTUP (vector AP_SIPI_VECTOR) to VP 1 via
 * ICR MSR 0x830. VP 1 reaches ap_main in long mode, prints "ap up" and sets a flag. VP 0 waits for
 * the flag for at most 10 ms of virtual time. Exit 0 on success, 1 on timeout, 2 if not started
 * with parked APs and at least 2 vCPUs. */
#include "hvsim_guest.h"
#include "ap_trampoline.h"

#define MSR_APIC_BASE 0x1B
#define APIC_BASE_X2APIC_ENABLE ((1u << 10) | (1u << 11)) /* EXTD | EN */
#define MSR_X2APIC_ICR 0x830
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define AP_VP 1
#define AP_STACK_SIZE 16384

static uint8_t ap_stack[AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t ap_up;

static void __attribute__((noreturn)) ap_main(void)
{
    printf("ap up\n");
    atomic_store_u32(&ap_up, 1);
    halt_forever();
}

static void set_slot(const uint8_t *slot, uint64_t value)
{
    uint64_t *copy = (uint64_t *)(uintptr_t)(AP_TRAMP_BASE + (uintptr_t)(slot - ap_tramp_start));
    *copy = value;
}

static void send_ipi(uint32_t dest, uint32_t mode_vector)
{
    wrmsr(MSR_X2APIC_ICR, ((uint64_t)dest << 32) | mode_vector);
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    if (vp != 0)
        return 0;
    if (!(bi->flags & HVSIM_BOOT_FLAG_APS_PARKED) || bi->vcpu_count < 2) {
        printf("ap_start: needs --ap-start parked and at least 2 vCPUs\n");
        return 2;
    }
    memcpy((void *)(uintptr_t)AP_TRAMP_BASE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
    set_slot(ap_tramp_cr3, bi->boot_cr3);
    set_slot(ap_tramp_stack, (uintptr_t)(ap_stack + AP_STACK_SIZE));
    set_slot(ap_tramp_entry, (uintptr_t)ap_main);

    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_X2APIC_ENABLE);
    send_ipi(AP_VP, ICR_INIT);
    send_ipi(AP_VP, ICR_STARTUP | AP_SIPI_VECTOR);

    uint64_t deadline = rdtsc() + bi->tsc_hz / 100;
    while (!atomic_load_u32(&ap_up)) {
        if (rdtsc() > deadline) {
            printf("ap_start: timeout waiting for VP %u\n", AP_VP);
            return 1;
        }
        pause();
    }
    printf("ap_start: VP %u is up\n", AP_VP);
    return 0;
}
