// The init's system calls: raw instructions, no libc (the init is linked with -nostdlib), and its
// entry point. x86-64 and aarch64.
#pragma once

#include <stdint.h>

namespace confine {
namespace init_sys {

#if defined(__x86_64__)
enum : long {
  kWrite = 1,
  kClose = 3,
  kRtSigprocmask = 14,
  kExecve = 59,
  kExit = 60,
  kWait4 = 61,
  kKill = 62,
  kFcntl = 72,
  kRtSigtimedwait = 128,
  kExitGroup = 231,
  kCloseRange = 436,
};

inline long Syscall6(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                     long f = 0) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
enum : long {
  kWrite = 64,
  kClose = 57,
  kRtSigprocmask = 135,
  kExecve = 221,
  kExit = 93,
  kWait4 = 260,
  kKill = 129,
  kFcntl = 25,
  kRtSigtimedwait = 137,
  kExitGroup = 94,
  kCloseRange = 436,
};

inline long Syscall6(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                     long f = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "confine-init: x86-64 and aarch64 only"
#endif

inline long Write(int fd, const void* buf, unsigned long len) {
  return Syscall6(kWrite, fd, reinterpret_cast<long>(buf), static_cast<long>(len));
}
inline long Close(int fd) { return Syscall6(kClose, fd); }
inline long CloseRange(unsigned first, unsigned last) {
  return Syscall6(kCloseRange, first, last, 0);
}
inline long Fcntl(int fd, int cmd, long arg) { return Syscall6(kFcntl, fd, cmd, arg); }
inline long SigprocmaskSet(const uint64_t* set) {
  return Syscall6(kRtSigprocmask, 2 /* SIG_SETMASK */, reinterpret_cast<long>(set), 0, 8);
}
inline long Sigtimedwait(const uint64_t* set, void* info) {
  return Syscall6(kRtSigtimedwait, reinterpret_cast<long>(set), reinterpret_cast<long>(info), 0, 8);
}
inline long Execve(const char* file, char* const* argv, char* const* envp) {
  return Syscall6(kExecve, reinterpret_cast<long>(file), reinterpret_cast<long>(argv),
                  reinterpret_cast<long>(envp));
}
inline long Wait4(int pid, int* status, int options) {
  return Syscall6(kWait4, pid, reinterpret_cast<long>(status), options, 0);
}
inline long Kill(int pid, int sig) { return Syscall6(kKill, pid, sig); }
[[noreturn]] inline void Exit(int status) {
  for (;;) Syscall6(kExitGroup, status);
}

}  // namespace init_sys
}  // namespace confine
