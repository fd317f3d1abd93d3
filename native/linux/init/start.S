// confine-init's entry point: no libc, so no crt1. The kernel starts a static executable with
// the stack pointer at argc (then argv, NULL, envp, NULL, auxv); confine_init_main(sp) never
// returns. The outermost frame is marked (no return address, no frame pointer).
#if defined(__x86_64__)
  .text
  .globl _start
  .type _start, @function
_start:
  xor %ebp, %ebp
  mov %rsp, %rdi
  and $-16, %rsp
  call confine_init_main
  hlt
  .size _start, .-_start

// long confine_init_vfork(int (*fn)(void*), void* arg, void* stackTop): clone(CLONE_VM |
// CLONE_VFORK | SIGCHLD) onto stackTop; the child calls fn(arg) there and exits with its result
// (fn execs or exits). The parent resumes once the child has exec'd or exited: the pid or -errno.
// fn and arg travel in r8/r9, which clone ignores without CLONE_SETTLS and the child inherits.
  .globl confine_init_vfork
  .type confine_init_vfork, @function
confine_init_vfork:
  mov %rdi, %r8
  mov %rsi, %r9
  mov %rdx, %rsi         # newsp
  mov $0x4111, %edi      # CLONE_VM | CLONE_VFORK | SIGCHLD
  xor %edx, %edx
  xor %r10d, %r10d
  mov $56, %eax          # __NR_clone
  syscall
  test %rax, %rax
  jnz 1f
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov %eax, %edi
  mov $60, %eax          # __NR_exit
  syscall
  hlt
1:
  ret
  .size confine_init_vfork, .-confine_init_vfork
#elif defined(__aarch64__)
  .text
  .globl _start
  .type _start, %function
_start:
  mov x29, xzr
  mov x30, xzr
  mov x0, sp
  bl confine_init_main
  brk #0
  .size _start, .-_start

  .globl confine_init_vfork
  .type confine_init_vfork, %function
confine_init_vfork:
  mov x9, x0             // fn
  mov x10, x1            // arg
  mov x1, x2             // newsp
  mov x0, #0x4111        // CLONE_VM | CLONE_VFORK | SIGCHLD
  mov x2, xzr
  mov x3, xzr
  mov x4, xzr
  mov x8, #220           // __NR_clone
  svc #0
  cbnz x0, 1f
  mov x29, xzr
  mov x30, xzr
  mov x0, x10
  blr x9
  mov x8, #93            // __NR_exit
  svc #0
  brk #0
1:
  ret
  .size confine_init_vfork, .-confine_init_vfork
#endif
  .section .note.GNU-stack,"",%progbits
