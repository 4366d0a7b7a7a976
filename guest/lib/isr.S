/* isr.S - entry stubs for all 256 vectors and the common path to isr_dispatch.
 *
 * Stub N starts at isr_stubs + 16 * N. It pushes 0 unless the CPU pushed an error code
 * (vectors 8, 10-14, 17, 21, 29, 30), then N, and jumps to isr_common, which pushes all GPRs and
 * CR2 to complete a struct trap_frame (hvsim/idt.h), calls isr_dispatch(frame) on a 16-byte
 * aligned stack, restores the (possibly modified) frame and returns with iretq.
 */
    .text
    .globl isr_stubs
    .balign 16
isr_stubs:
    vec = 0
    .rept 256
    .balign 16
    .if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    vec = vec + 1
    .endr

isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %cr2, %rax
    push %rax
    cld
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    call isr_dispatch
    mov %rbx, %rsp
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits
