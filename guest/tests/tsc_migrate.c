/* tsc_migrate.elf - reads the reference TSC page with the TLFS sequence protocol (sequence 0 =
 * fall back to TIME_REF_COUNT; retry if the sequence changed under the read) 20000 times while
 * the host changes the TSC frequency (a live migration). Checks that time never goes backwards,
 * stays within 1 us of TIME_REF_COUNT, that a new sequence was published and that TSC_FREQUENCY
 * changed. With reenlightenment (PROTOCOL 2.9: REENLIGHTENMENT_CONTROL vector 0x50, enabled,
 * target VP 0; TSC_EMULATION_CONTROL enabled) it also checks that the change raised vector 0x50
 * exactly once with TSC_EMULATION_STATUS.InProgress set, and that writing 0 clears it.
 * Exits 0 if all held, else 1. Used by tests/integration (the host side is scripted). */
#include "hvsim_guest.h"

#define MSR_GUEST_OS_ID 0x40000000
#define MSR_TIME_REF_COUNT 0x40000020
#define MSR_REFERENCE_TSC 0x40000021
#define MSR_TSC_FREQUENCY 0x40000022
#define MSR_REENLIGHTENMENT_CONTROL 0x40000106
#define MSR_TSC_EMULATION_CONTROL 0x40000107
#define MSR_TSC_EMULATION_STATUS 0x40000108
#define MSR_X2APIC_EOI 0x80B
#define REENLIGHTENMENT_VECTOR 0x50

static volatile uint32_t reenlightenments;
static volatile uint64_t status_in_handler;

static void on_reenlightenment(struct trap_frame *tf)
{
    (void)tf;
    reenlightenments++;
    status_in_handler = rdmsr(MSR_TSC_EMULATION_STATUS);
    wrmsr(MSR_X2APIC_EOI, 0);
}

struct ref_tsc_page {
    volatile uint32_t sequence;
    uint32_t reserved;
    volatile uint64_t scale;
    volatile int64_t offset;
};

static uint8_t page[4096] __attribute__((aligned(4096)));

static uint64_t page_time(const struct ref_tsc_page *p, uint32_t *seq_out)
{
    for (;;) {
        uint32_t seq = p->sequence;
        if (seq == 0) {
            *seq_out = 0;
            return rdmsr(MSR_TIME_REF_COUNT);
        }
        __asm__ volatile("" ::: "memory");
        uint64_t scale = p->scale;
        int64_t offset = p->offset;
        uint64_t tsc = rdtsc();
        __asm__ volatile("" ::: "memory");
        if (p->sequence != seq)
            continue;
        *seq_out = seq;
        return (uint64_t)(((unsigned __int128)tsc * scale) >> 64) + (uint64_t)offset;
    }
}

int guest_main(uint32_t vp, const struct hvsim_boot_info *bi)
{
    (void)bi;
    if (vp != 0)
        halt_forever();
    wrmsr(MSR_GUEST_OS_ID, 0x8100000000000001ull);
    idt_install();
    idt_set_handler(REENLIGHTENMENT_VECTOR, on_reenlightenment);
    x2apic_enable();
    wrmsr(MSR_REENLIGHTENMENT_CONTROL, REENLIGHTENMENT_VECTOR | (1u << 16) | (0ull << 32));
    wrmsr(MSR_TSC_EMULATION_CONTROL, 1);
    __asm__ volatile("sti" ::: "memory");
    wrmsr(MSR_REFERENCE_TSC, (uint64_t)(uintptr_t)page | 1);
    const struct ref_tsc_page *p = (const struct ref_tsc_page *)page;
    uint64_t freq0 = rdmsr(MSR_TSC_FREQUENCY), last = 0, worst = 0;
    uint32_t first_seq = p->sequence, seq = 0, seq_changes = 0, backwards = 0, prev_seq = first_seq;
    for (int i = 0; i < 20000; i++) {
        uint64_t t = page_time(p, &seq);
        uint64_t ref = rdmsr(MSR_TIME_REF_COUNT);
        if (t < last)
            backwards++;
        uint64_t diff = ref > t ? ref - t : t - ref;
        if (diff > worst)
            worst = diff;
        if (seq != 0 && seq != prev_seq) {
            seq_changes++;
            prev_seq = seq;
        }
        last = t;
    }
    uint64_t freq1 = rdmsr(MSR_TSC_FREQUENCY);
    __asm__ volatile("cli" ::: "memory");
    uint64_t status_before = rdmsr(MSR_TSC_EMULATION_STATUS);
    wrmsr(MSR_TSC_EMULATION_STATUS, 0);
    uint64_t status_after = rdmsr(MSR_TSC_EMULATION_STATUS);
    printf("tsc_migrate: freq %lu -> %lu, sequence %u -> %u (%u changes), backwards %u, worst %lu x 100ns\n",
           freq0, freq1, first_seq, prev_seq, seq_changes, backwards, worst);
    printf("tsc_migrate: reenlightenment interrupts %u, TSC_EMULATION_STATUS %lu in the handler, %lu before and %lu "
           "after clearing\n",
           reenlightenments, status_in_handler, status_before, status_after);
    int reenlightened = reenlightenments == 1 && status_in_handler == 1 && status_before == 1 && status_after == 0;
    return (backwards == 0 && worst <= 10 && seq_changes >= 1 && freq1 != freq0 && reenlightened) ? 0 : 1;
}
