/* unknown_msr_nohandler.elf - rdmsr of unimplemented MSR 0x12345 with no IDT: #GP(0) cannot be
 * delivered, so the run must end with the crash verdict. Exits 1 if rdmsr returns. */
    .section .text.start, "ax"
    .globl _start
_start:
    mov $0x12345, %ecx
    rdmsr
    mov $1, %eax
    mov $0xF4, %edx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
