// What the child does between clone/fork and execve, and the plan the parent prepares for it.
//
// The parent builds a ChildPlan out of plain memory (char* arrays, numbers, fds) before the
// clone; the child only reads it and issues system calls. With CLONE_VM the child runs in the
// parent's address space on its own small stack, so it must not allocate, lock, or call into
// libc state: see child.cc.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace confine {

// The child's steps, in the order it takes them. The numbers travel through the error pipe.
enum class Stage : int32_t {
  kSignals = 1,
  kSetsid,
  kCgroup,
  kOomScoreAdj,
  kRlimit,
  kStdio,
  kCloseFds,
  kSetgroups,
  kSetresgid,
  kSetresuid,
  kChdir,
  kNoNewPrivs,
  kPdeathsig,
  kSigmask,
  kExecve,
  // Isolation (Linux, native/linux/isolation_child.cc) and the pid namespace's init.
  kNamespaces,
  kUidMap,
  kMounts,
  kPivotRoot,
  kHostname,
  kNetwork,
  kInit,
  kCapabilities,  // Linux kernel guards (native/linux/guards.h), in the order they run
  kLandlock,
  kSeccomp,
};

// The system call that failed inside a stage (a stage may use several).
enum class Syscall : int32_t {
  kRtSigaction = 1,
  kSetsid,
  kWrite,
  kOpen,
  kPrlimit,
  kFcntl,
  kDup3,
  kCloseRange,
  kGetdents,
  kSetgroups,
  kSetresgid,
  kSetresuid,
  kChdir,
  kPrctl,
  kGetppid,
  kSigprocmask,
  kExecve,
  kStatx,
  kSetns,
  kMount,
  kMountSetattr,
  kOpenat2,
  kMkdir,
  kSymlink,
  kPivotRoot,
  kUmount2,
  kSethostname,
  kSocket,
  kIoctl,
  kExecveat,
  kClone,
  kPpoll,
  kCapset,
  kLandlockAddRule,
  kLandlockRestrictSelf,
  kSeccomp,
};

const char* StageName(Stage stage);
const char* SyscallName(Syscall syscall);

// One record the child writes into the error pipe before _exit(127). Twelve bytes: far below
// PIPE_BUF, so the write is atomic and the parent reads all of it or nothing.
struct ChildError {
  int32_t stage;
  int32_t syscall;
  int32_t err;
};

struct ChildGuards;  // native/linux/guards.h

struct ChildRlimit {
  int resource;    // RLIMIT_*
  uint64_t value;  // soft and hard; RLIM_INFINITY for none
};

struct IsolationPlan;  // native/linux/isolation.h

struct ChildPlan {
  const char* file = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;  // nullptr: stay where the supervisor is

  bool setGroups = false;
  const gid_t* groups = nullptr;
  size_t groupCount = 0;
  bool setGid = false;
  gid_t gid = 0;
  bool setUid = false;
  uid_t uid = 0;

  const ChildRlimit* rlimits = nullptr;
  size_t rlimitCount = 0;

  const int* stdio = nullptr;  // parent fds that become the child's 0..stdioCount-1
  size_t stdioCount = 0;
  int* stdioScratch = nullptr;  // stdioCount ints the child may write (shared memory)

  const int* cgroupProcsFds = nullptr;  // cgroup v1: write "0" into each
  size_t cgroupProcsCount = 0;

  bool setsid = false;
  bool noNewPrivs = false;
  int pdeathsig = 0;
  pid_t parentPid = 0;            // getpid() of the supervisor, taken before the clone
  bool resetOomScoreAdj = false;  // decided by the parent: asked for AND its own value is < 0

  const IsolationPlan* isolation = nullptr;  // Linux: namespaces, new root, init; else none
  const ChildGuards* guards = nullptr;  // Linux: capabilities, Landlock, seccomp; nullptr: none

  bool useCloseRange = true;  // false: test the /proc/self/fd fallback
  // Written by StartChild before each clone attempt, read by the child's step 1: this clone
  // asked the kernel to reset every handler (Linux's CLONE_CLEAR_SIGHAND), so only the ignored
  // signals are left to reset. false: the child resets every signal itself.
  bool handlersCleared = false;
  int errFd = -1;   // write end of the O_CLOEXEC error pipe
  int keepFd = -1;  // an O_CLOEXEC fd >= stdioCount that step 6 leaves open for a later step
};

// Writes the decimal digits of n >= 0 at out and a NUL after them; returns the NUL's address.
// Async-signal-safe (the child formats fd numbers with it).
inline char* AppendDecimal(char* out, int n) {
  char digits[12];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (count > 0) *out++ = digits[--count];
  *out = '\0';
  return out;
}

// Runs the plan and execs; never returns. Every failure writes a ChildError to plan.errFd and
// exits with status 127.
[[noreturn]] void RunChild(const ChildPlan& plan);

}  // namespace confine
