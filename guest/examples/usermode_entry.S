/* usermode_entry.S - privilege-switch glue for usermode.c.
 *
 * run_on_stack(fn, top): switches RSP to top and calls fn, which must not return.
 * enter_user(entry, user_rsp): saves callee-saved registers, leaves their address in kernel_rsp
 *   and iretq's to entry at CPL 3 (CS 0x2B, SS 0x23, RFLAGS 0x2). It "returns" when a handler
 *   resumes CPL 0 at user_exit_resume with RSP = kernel_rsp.
 * syscall_entry (LSTAR): moves to its own syscall stack, calls syscall_handler(rdi, rax) and
 *   returns the result in RAX with sysretq.
 */
    .text
    .globl run_on_stack
run_on_stack:
    mov %rsi, %rsp
    call *%rdi
    ud2

    .globl enter_user
enter_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, kernel_rsp(%rip)
    pushq $0x23
    pushq %rsi
    pushq $0x2
    pushq $0x2B
    pushq %rdi
    iretq

    .globl user_exit_resume
user_exit_resume:
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

    .globl syscall_entry
syscall_entry:
    mov %rsp, syscall_user_rsp(%rip)
    lea syscall_stack_top(%rip), %rsp
    push %rcx
    push %r11
    mov %rax, %rsi
    call syscall_handler
    pop %r11
    pop %rcx
    mov syscall_user_rsp(%rip), %rsp
    sysretq

    .bss
    .balign 16
    .globl syscall_stack, syscall_stack_top, kernel_rsp
syscall_stack:
    .skip 16384
syscall_stack_top:
kernel_rsp:
    .quad 0
syscall_user_rsp:
    .quad 0

    .section .note.GNU-stack, "", @progbits
