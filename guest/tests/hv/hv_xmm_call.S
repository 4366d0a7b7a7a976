/* hv_xmm_call.S - an inline hypercall with XMM fast input (PROTOCOL 3.2), for hv_hypercall_ex.
 *
 * uint32_t hvx_hypercall_xmm_safe(int vmmcall, uint64_t control, const uint64_t q[14], uint64_t *result)
 *   RCX = control (the caller sets the fast bit), RDX = q[0], R8 = q[1], XMM0..XMM5 = q[2..13]
 *   (input bytes 16..111), then VMMCALL (vmmcall != 0) or VMCALL. Returns 0, or the fault as
 *   HVT_FAULT(vector, error code) through the hv_test.h "safe" protocol (R9 = magic, R10 = resume
 *   address); *result = RAX (0 after a fault). In assembly because the guests are built with
 *   -mgeneral-regs-only, so C cannot name the XMM registers. Clobbers XMM0..XMM5, R8-R11.
 */
    .text
    .globl hvx_hypercall_xmm_safe
    .type hvx_hypercall_xmm_safe, @function
hvx_hypercall_xmm_safe:
    push %rcx
    movdqu 16(%rdx), %xmm0
    movdqu 32(%rdx), %xmm1
    movdqu 48(%rdx), %xmm2
    movdqu 64(%rdx), %xmm3
    movdqu 80(%rdx), %xmm4
    movdqu 96(%rdx), %xmm5
    mov %rsi, %rcx
    mov 8(%rdx), %r8
    mov (%rdx), %rdx
    movabs $0x5AFEC0DE5AFEC0DE, %r9
    lea 1f(%rip), %r10
    xor %eax, %eax
    test %edi, %edi
    jz 2f
    vmmcall
    jmp 3f
2:  vmcall
3:  xor %r9d, %r9d
1:  pop %rcx
    mov %rax, (%rcx)
    mov %r9d, %eax
    ret
    .size hvx_hypercall_xmm_safe, .-hvx_hypercall_xmm_safe
    .section .note.GNU-stack, "", @progbits
