/* hvsim/idt.h - exceptions and interrupts.
 *
 * One 256-entry IDT of 64-bit interrupt gates (selector 0x08, DPL 0, no IST) is shared by all
 * vCPUs; idt_install() builds it on first use and loads IDTR on the calling vCPU. Every vector
 * enters isr_dispatch with a struct trap_frame; a handler may change any field (rip, cs, rsp,
 * ss, rflags, GPRs) and the stub resumes with the changed values via iretq. cr2 is read by the
 * stub on entry to every vector (meaningful for #PF, vector 14). A vector with no handler prints
 * "unhandled vector N at rip 0x.. err 0x.." and exits with HVSIM_EXIT_UNHANDLED_BASE + N.
 */
#ifndef HVSIM_IDT_H
#define HVSIM_IDT_H

#include <stddef.h>
#include <stdint.h>

/* Lowest address first: what the stub pushed last comes first. */
struct trap_frame {
    uint64_t cr2;
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

_Static_assert(offsetof(struct trap_frame, vector) == 16 * 8, "isr.S pushes 16 qwords below vector");
_Static_assert(offsetof(struct trap_frame, rip) == 18 * 8, "CPU frame follows the error code");
_Static_assert(sizeof(struct trap_frame) == 23 * 8, "trap frame size");

typedef void (*trap_handler_t)(struct trap_frame *tf);

void idt_install(void);
void idt_set_handler(uint8_t vector, trap_handler_t fn);
void idt_set_dpl(uint8_t vector, unsigned dpl); /* 3 lets `int N` reach the gate from CPL 3 */

/* Called by isr.S. */
void isr_dispatch(struct trap_frame *tf);

#endif
