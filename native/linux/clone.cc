// StartChild for Linux: clone3 (falling back to clone) with CLONE_VM|CLONE_VFORK on a stack of
// its own, as glibc's posix_spawn and Go's forkExec do. The child shares our memory instead of
// copying page tables, so spawning costs the same at 50 MB and at 2 GB of supervisor RSS, and
// the parent thread sleeps until the child has exec'd or exited.
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>

#include "../posix/start_child.h"
#include "clone.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

namespace confine {
namespace {

// struct clone_args up to its cgroup field (CLONE_ARGS_SIZE_VER2, 88 bytes); declared here so
// that building does not depend on how new the installed kernel headers are.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
static_assert(sizeof(CloneArgs) == 88, "clone_args VER2 is 88 bytes");

int ChildEntry(void* plan) { RunChild(*static_cast<const ChildPlan*>(plan)); }

}  // namespace
}  // namespace confine

// clone3 cannot be called through syscall(2) with a new stack: the child would return from
// syscall() into a frame that is not on its stack. This stub makes the call and, in the child,
// calls fn(arg) on the new stack (the kernel set the stack pointer to stack + stack_size) and
// exits with its result; fn never returns here (RunChild execs or _exits). In the parent it
// returns the pid or -errno. Registers other than the return value survive the syscall and are
// copied into the child, which is how fn and arg reach it.
extern "C" long confine_clone3(confine::CloneArgs* args, size_t size, int (*fn)(void*), void* arg)
    __attribute__((visibility("hidden")));

#if defined(__x86_64__)
#define CONFINE_HAVE_CLONE3_STUB 1
asm(R"(
  .text
  .p2align 4
  .globl confine_clone3
  .hidden confine_clone3
  .type confine_clone3, @function
confine_clone3:
  mov %rdx, %r8          # fn
  mov %rcx, %r9          # arg
  mov $435, %eax         # __NR_clone3 (rdi = args, rsi = size)
  syscall
  test %rax, %rax
  jnz 1f                 # parent: pid, or -errno
  xor %ebp, %ebp         # child: outermost frame
  mov %r9, %rdi
  call *%r8
  mov %eax, %edi
  mov $60, %eax          # __NR_exit
  syscall
  hlt
1:
  ret
  .size confine_clone3, .-confine_clone3
)");
#elif defined(__aarch64__)
#define CONFINE_HAVE_CLONE3_STUB 1
asm(R"(
  .text
  .p2align 4
  .globl confine_clone3
  .hidden confine_clone3
  .type confine_clone3, %function
confine_clone3:
  mov x9, x2             // fn
  mov x10, x3            // arg
  mov x8, #435           // __NR_clone3 (x0 = args, x1 = size)
  svc #0
  cbnz x0, 1f            // parent: pid, or -errno
  mov x29, xzr           // child: outermost frame
  mov x30, xzr
  mov x0, x10
  blr x9
  mov x8, #93            // __NR_exit
  svc #0
  brk #0
1:
  ret
  .size confine_clone3, .-confine_clone3
)");
#else
#define CONFINE_HAVE_CLONE3_STUB 0
#endif

namespace confine {
namespace {

// The child's stack: RunChild needs a few KiB (a 2 KiB buffer at most, for getdents in step 6 or
// /proc/self/status in step 1, never both at once); 64 KiB is
// generous. A PROT_NONE page below catches an overflow instead of corrupting our heap.
constexpr size_t kStackSize = 64 * 1024;

// One stack per spawning thread, mapped on its first spawn and kept: CLONE_VFORK returns only
// once the child has exec'd or exited, so the next spawn of this thread finds it free. An mmap
// and an munmap per spawn cost more than the clone itself here: the munmap flushes the TLB of
// every CPU the supervisor's threads ran on (an IPI each; in a VM a trap to the hypervisor),
// which measured 0.6-0.85x the clone3 call's own time in the supervisor (perf, 50 MB and 2 GB).
// `inUse` covers a clone from inside the child (it shares this thread's memory, TLS included):
// that one maps a stack of its own, as every spawn did before.
struct ThreadStack {
  void* map = nullptr;
  size_t mapSize = 0;
  bool inUse = false;
  ~ThreadStack() {
    if (map) munmap(map, mapSize);
  }
};
thread_local ThreadStack threadStack;

// A stack of kStackSize with its guard page: this thread's kept one when free, else a new
// mapping (*kept tells which: a new one is unmapped after the clone). nullptr on failure (errno).
char* TakeStack(bool* kept, void** map, size_t* mapSize) {
  long page = sysconf(_SC_PAGESIZE);
  *mapSize = kStackSize + static_cast<size_t>(page);
  *kept = !threadStack.inUse;
  if (*kept && threadStack.map) {
    *map = threadStack.map;
  } else {
    *map = mmap(nullptr, *mapSize, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (*map == MAP_FAILED) return nullptr;
    mprotect(*map, static_cast<size_t>(page), PROT_NONE);  // guard page; best effort
    if (*kept) {
      threadStack.map = *map;
      threadStack.mapSize = *mapSize;
    }
  }
  if (*kept) threadStack.inUse = true;
  return static_cast<char*>(*map) + page;
}

// Cleared the first time clone3 answers ENOSYS (old kernel, or a seccomp filter that hides it).
std::atomic<bool> clone3Usable{true};
// Cleared the first time clone3 refuses CLONE_CLEAR_SIGHAND (EINVAL) and accepts the same call
// without it: Linux 5.3 and 5.4 have clone3 but not the flag (5.5). Learnt from the spawn itself
// rather than a probe: clone3 answers every refused argument with EINVAL, so a probe would have
// to get past those checks, into the making of a process, to tell the flag from its absence. A
// kernel that has the flag pays nothing for the check; one without pays one refused call per
// process (per spawn, until one without the flag is accepted).
std::atomic<bool> clearSighandUsable{true};

// Block every signal with the raw system call: pthread_sigmask would leave glibc's internal
// SIGCANCEL/SIGSETXID unblocked, and their handlers must never run in the CLONE_VM child.
void BlockAllSignals(uint64_t* old) {
  uint64_t all = ~0ULL;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, 8);
}
void RestoreSignals(const uint64_t* old) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, nullptr, 8);
}

}  // namespace

namespace linux_clone {

bool ProbeClone3() {
  long r = syscall(SYS_clone3, nullptr, 0);
  return r < 0 && errno == EINVAL;
}

bool ProbeCloneIntoCgroup() {
  if (!ProbeClone3()) return false;
  CloneArgs args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_INTO_CGROUP;
  args.cgroup = static_cast<uint64_t>(INT_MAX) + 1;
  long r = syscall(SYS_clone3, &args, sizeof args);
  return r < 0 && errno == EINVAL;
}

}  // namespace linux_clone

namespace {

struct CloneOutcome {
  long pid = -ENOSYS;  // > 0, or -errno
  int pidfd = -1;
  const char* syscall = "clone3";
};

// The one clone of this file: CLONE_VM|CLONE_VFORK|flags on a fresh stack, fn(arg) in the child.
// With handlersCleared (a spawn's), clone3 also asks the kernel to reset every signal handler in
// the child (CLONE_CLEAR_SIGHAND) where it can, and *handlersCleared tells the child, written
// before each attempt (the child reads it in our memory), whether the kernel did.
CloneOutcome CloneVfork(uint64_t flags, bool wantPidfd, int cgroupFd, bool* handlersCleared,
                        int (*fn)(void*), void* arg) {
  CloneOutcome out;
  bool kept;
  void* map;
  size_t mapSize;
  char* stack = TakeStack(&kept, &map, &mapSize);
  if (!stack) {
    out.pid = -errno;
    out.syscall = "mmap";
    return out;
  }
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer (npm run test:asan): a previous child's stack frames never returned,
  // and they (the kept stack) or a new mapping at the same address would still carry their
  // shadow poisoning.
  ASAN_UNPOISON_MEMORY_REGION(stack, kStackSize);
#endif

  int pidfd = -1;
  const int savedErrno = errno;  // the child's syscall() stubs write this thread's errno
  uint64_t oldMask;
  BlockAllSignals(&oldMask);

  long pid = -ENOSYS;
#if CONFINE_HAVE_CLONE3_STUB
  if (clone3Usable.load(std::memory_order_relaxed) || cgroupFd >= 0) {
    CloneArgs args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_VM | CLONE_VFORK | flags;
    if (wantPidfd) {
      args.flags |= CLONE_PIDFD;
      args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
    }
    if (cgroupFd >= 0) {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = static_cast<uint64_t>(cgroupFd);
    }
    args.exit_signal = SIGCHLD;  // an ordinary child: waitpid without __WALL sees it
    args.stack = reinterpret_cast<uintptr_t>(stack);
    args.stack_size = kStackSize;
    // 64-bit only: until a 2025 fix, 32-bit kernels took clone3's flags as an unsigned long in
    // copy_sighand, cut this bit 32 off and ignored it without refusing the call: the child would
    // believe its handlers gone. (confine_clone3 exists for x86_64 and aarch64 only today.)
    static_assert(sizeof(void*) == 8, "CLONE_CLEAR_SIGHAND is trusted on 64-bit kernels only");
    const bool clearSighand =
        handlersCleared != nullptr && clearSighandUsable.load(std::memory_order_relaxed);
    if (clearSighand) args.flags |= CLONE_CLEAR_SIGHAND;
    if (handlersCleared) *handlersCleared = clearSighand;
    pid = confine_clone3(&args, sizeof args, fn, arg);
    if (pid == -EINVAL && clearSighand) {
      // Maybe the flag (5.3, 5.4), maybe something else (a namespace): ask again without it.
      // Accepted: it was the flag, never ask for it again. Refused again, for whatever reason (a
      // passing EAGAIN or ENOMEM included), proves nothing: the next spawn asks again. (No test
      // here can make a 6.x kernel refuse the flag: seccomp cannot see clone3's arguments.)
      args.flags &= ~static_cast<uint64_t>(CLONE_CLEAR_SIGHAND);
      *handlersCleared = false;
      pid = confine_clone3(&args, sizeof args, fn, arg);
      if (pid > 0) clearSighandUsable.store(false, std::memory_order_relaxed);
    }
    if (pid == -ENOSYS) clone3Usable.store(false, std::memory_order_relaxed);
  }
#endif
  if (pid == -ENOSYS && cgroupFd < 0) {
    // clone(2) through glibc's wrapper, which switches stacks and calls fn itself.
    // CLONE_PIDFD (5.2+) returns the pidfd through the parent_tid argument.
    out.syscall = "clone";
    if (handlersCleared) *handlersCleared = false;  // clone(2) has no CLONE_CLEAR_SIGHAND
    int cflags = CLONE_VM | CLONE_VFORK | SIGCHLD | static_cast<int>(flags);
    pid = clone(fn, stack + kStackSize, cflags | (wantPidfd ? CLONE_PIDFD : 0), arg, &pidfd);
    if (pid < 0 && errno == EINVAL && wantPidfd) {
      pidfd = -1;
      pid = clone(fn, stack + kStackSize, cflags, arg);
    }
    if (pid < 0) pid = -errno;
  }

  RestoreSignals(&oldMask);
  errno = savedErrno;
#if defined(__SANITIZE_ADDRESS__)
  // The child's frames never returned, so their poisoning stays in the shadow after munmap,
  // where any later mapping at this address (a V8 buffer, say) would trip over it.
  ASAN_UNPOISON_MEMORY_REGION(stack, kStackSize);
#endif
  // The child has exec'd or exited (CLONE_VFORK waited for that): the stack is free again.
  if (kept) threadStack.inUse = false;
  else munmap(map, mapSize);
  out.pid = pid;
  out.pidfd = pid > 0 ? pidfd : -1;
  return out;
}

}  // namespace

namespace linux_clone {

long RunVforked(uint64_t flags, int (*fn)(void*), void* arg) {
  return CloneVfork(flags, false, -1, nullptr, fn, arg).pid;
}

}  // namespace linux_clone

StartResult StartChild(ChildPlan& plan, const StartOptions& opts) {
  StartResult res;
  plan.handlersCleared = false;
  CloneOutcome c =
      CloneVfork(opts.cloneFlags, opts.wantPidfd, opts.cgroupFd,
                 opts.clearSighand ? &plan.handlersCleared : nullptr, ChildEntry, &plan);
  if (c.pid < 0) {
    res.err = static_cast<int>(-c.pid);
    res.syscall = c.syscall;
    if (c.syscall[0] == 'm') return res;  // mmap
    // Without clone3 a cgroup fd cannot be honoured; with it, a failure is most likely the
    // placement (EBUSY/EACCES/EOPNOTSUPP from the target cgroup). Say which step it was. New
    // namespaces the kernel refuses answer EPERM, EINVAL, ENOSPC or EUSERS.
    int e = res.err;
    res.namespaces =
        opts.cloneFlags != 0 && (e == EPERM || e == EINVAL || e == ENOSPC || e == EUSERS);
    res.cgroupPlacement = !res.namespaces && opts.cgroupFd >= 0;
    return res;
  }
  res.pid = static_cast<pid_t>(c.pid);
  res.pidfd = c.pidfd;
  return res;
}

}  // namespace confine
