/* exit42.elf - every vCPU writes 42 to the exit port at once: the run ends with exit code 42. */
    .section .text.start, "ax"
    .globl _start
_start:
    mov $42, %eax
    mov $0xF4, %edx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
