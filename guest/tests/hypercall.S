/* hypercall.elf - issues VMCALL with RCX = 0x1234, then VMMCALL with RCX = 0x5678, and exits with
 * RAX + RDX (what the host's hypercall handler left). With no handler the VMCALL is #UD and, with
 * no IDT, the run ends in the crash verdict. */
    .section .text.start, "ax"
    .globl _start
_start:
    mov $0x1234, %ecx
    vmcall
    mov %rax, %rdx
    mov $0x5678, %ecx
    vmmcall
    add %rdx, %rax
    mov $0xF4, %edx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
