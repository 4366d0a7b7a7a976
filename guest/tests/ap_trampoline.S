/* ap_trampoline.S - AP bring-up: real mode -> 32-bit protected mode -> long mode -> C.
 *
 * Position-dependent: runs only from its copy at AP_TRAMP_BASE (addresses are computed as
 * label - ap_tramp_start + AP_TRAMP_BASE). Uses its own GDT: 0x08 32-bit code, 0x10 data,
 * 0x18 64-bit code. Sets CR4 = 0x6A0, CR3 = slot, EFER = SCE|LME|NXE, CR0 = 0x80010033 like the
 * contract's boot state, then calls the entry slot on the stack slot. See ap_trampoline.h.
 */
#include "ap_trampoline.h"

#define REL(x) ((x) - ap_tramp_start + AP_TRAMP_BASE)

    .section .rodata.ap_tramp, "a"
    .globl ap_tramp_start, ap_tramp_end, ap_tramp_cr3, ap_tramp_stack, ap_tramp_entry

    .code16
ap_tramp_start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl tramp_gdtr - ap_tramp_start
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $REL(pm32)

    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x6A0, %eax
    mov %eax, %cr4
    mov REL(ap_tramp_cr3), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    mov $0x901, %eax
    xor %edx, %edx
    wrmsr
    mov $0x80010033, %eax
    mov %eax, %cr0
    ljmp $0x18, $REL(lm64)

    .code64
lm64:
    mov REL(ap_tramp_stack), %rsp
    mov REL(ap_tramp_entry), %rax
    call *%rax
1:  cli
    hlt
    jmp 1b

    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF /* 0x08: 32-bit code, base 0, 4 GiB */
    .quad 0x00CF92000000FFFF /* 0x10: data, base 0, 4 GiB */
    .quad 0x00AF9A000000FFFF /* 0x18: 64-bit code */
tramp_gdt_end:
tramp_gdtr:
    .word tramp_gdt_end - tramp_gdt - 1
    .long REL(tramp_gdt)
    .balign 8
ap_tramp_cr3:
    .quad 0
ap_tramp_stack:
    .quad 0
ap_tramp_entry:
    .quad 0
ap_tramp_end:

    .section .note.GNU-stack, "", @progbits
