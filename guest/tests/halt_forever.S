/* halt_forever.elf - every vCPU does cli; hlt: all halted with nothing to wake them (watchdog). */
    .section .text.start, "ax"
    .globl _start
_start:
    cli
1:  hlt
    jmp 1b

    .section .note.GNU-stack, "", @progbits
