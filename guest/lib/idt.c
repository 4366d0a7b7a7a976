/* idt.c - the shared IDT, handler table and C dispatcher (API in hvsim/idt.h). */
#include "hvsim/console.h"
#include "hvsim/exit.h"
#include "hvsim/idt.h"
#include "hvsim/sync.h"

#define IDT_VECTORS 256
#define STUB_SIZE 16
#define KERNEL_CS 0x08
#define GATE_INTERRUPT_PRESENT 0x8E /* P=1, DPL=0, type 0xE (64-bit interrupt gate) */

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit gate is 16 bytes");

struct __attribute__((packed)) idt_pointer {
    uint16_t limit;
    uint64_t base;
};

extern const char isr_stubs[];

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static trap_handler_t handlers[IDT_VECTORS];
static spinlock_t build_lock = SPINLOCK_INIT;
static volatile uint32_t built;

static void idt_build_once(void)
{
    if (atomic_load_u32(&built))
        return;
    spin_lock(&build_lock);
    if (!built) {
        for (int v = 0; v < IDT_VECTORS; v++) {
            uint64_t a = (uint64_t)(uintptr_t)(isr_stubs + v * STUB_SIZE);
            idt[v] = (struct idt_gate){
                .offset_low = (uint16_t)a,
                .selector = KERNEL_CS,
                .type_attr = GATE_INTERRUPT_PRESENT,
                .offset_mid = (uint16_t)(a >> 16),
                .offset_high = (uint32_t)(a >> 32),
            };
        }
        atomic_store_u32(&built, 1);
    }
    spin_unlock(&build_lock);
}

void idt_install(void)
{
    idt_build_once();
    struct idt_pointer p = {.limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void idt_set_handler(uint8_t vector, trap_handler_t fn)
{
    handlers[vector] = fn;
}

void idt_set_dpl(uint8_t vector, unsigned dpl)
{
    idt_build_once();
    idt[vector].type_attr = (uint8_t)((idt[vector].type_attr & ~0x60u) | ((dpl & 3u) << 5));
}

void isr_dispatch(struct trap_frame *tf)
{
    trap_handler_t fn = handlers[tf->vector & 0xFF];
    if (fn) {
        fn(tf);
        return;
    }
    printf("unhandled vector %lu at rip 0x%lx err 0x%lx\n", tf->vector, tf->rip, tf->error_code);
    hv_exit(HVSIM_EXIT_UNHANDLED_BASE + (uint32_t)tf->vector);
}
