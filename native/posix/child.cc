// The child's side of spawn: the steps between clone (or fork) and execve, in order.
//
// Rules for everything in this file (the child may share the parent's memory, see child_sys.h):
// no allocation, no locks, no libc state, no C++ runtime; only the plan, the stack, and the
// system calls of child_sys.h. Any failure reports (stage, syscall, errno) through the error
// pipe and exits 127; the parent turns that into the thrown error.
#include "child.h"

#include <signal.h>
#include <sys/resource.h>

#include "child_sys.h"

#ifdef __linux__
#include <linux/sched.h>

#include "../linux/guards.h"
#include "../linux/isolation.h"
#include "../linux/isolation_sys.h"
#endif

namespace confine {

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kSignals: return "signals";
    case Stage::kSetsid: return "setsid";
    case Stage::kCgroup: return "cgroup";
    case Stage::kOomScoreAdj: return "oom_score_adj";
    case Stage::kRlimit: return "rlimit";
    case Stage::kStdio: return "stdio";
    case Stage::kCloseFds: return "close_fds";
    case Stage::kSetgroups: return "setgroups";
    case Stage::kSetresgid: return "setresgid";
    case Stage::kSetresuid: return "setresuid";
    case Stage::kChdir: return "chdir";
    case Stage::kNoNewPrivs: return "no_new_privs";
    case Stage::kPdeathsig: return "pdeathsig";
    case Stage::kSigmask: return "sigmask";
    case Stage::kExecve: return "execve";
    case Stage::kCapabilities: return "capabilities";
    case Stage::kLandlock: return "landlock";
    case Stage::kSeccomp: return "seccomp";
    case Stage::kNamespaces: return "namespaces";
    case Stage::kUidMap: return "uid_map";
    case Stage::kMounts: return "mounts";
    case Stage::kPivotRoot: return "pivot_root";
    case Stage::kHostname: return "hostname";
    case Stage::kNetwork: return "network";
    case Stage::kInit: return "init";
  }
  return "unknown";
}

const char* SyscallName(Syscall syscall) {
#ifndef __linux__
  // The forked child's libc calls (child_sys.h) where they differ from the Linux names.
  switch (syscall) {
    case Syscall::kRtSigaction: return "sigaction";
    case Syscall::kPrlimit: return "setrlimit";
    case Syscall::kDup3: return "dup2";
    case Syscall::kSetresgid: return "setgid";
    case Syscall::kSetresuid: return "setuid";
    case Syscall::kSigprocmask: return "sigprocmask";
    default: break;
  }
#endif
  switch (syscall) {
    case Syscall::kRtSigaction: return "rt_sigaction";
    case Syscall::kSetsid: return "setsid";
    case Syscall::kWrite: return "write";
    case Syscall::kOpen: return "open";
    case Syscall::kPrlimit: return "prlimit";
    case Syscall::kFcntl: return "fcntl";
    case Syscall::kDup3: return "dup3";
    case Syscall::kCloseRange: return "close_range";
    case Syscall::kGetdents: return "getdents64";
    case Syscall::kSetgroups: return "setgroups";
    case Syscall::kSetresgid: return "setresgid";
    case Syscall::kSetresuid: return "setresuid";
    case Syscall::kChdir: return "chdir";
    case Syscall::kPrctl: return "prctl";
    case Syscall::kGetppid: return "getppid";
    case Syscall::kSigprocmask: return "rt_sigprocmask";
    case Syscall::kExecve: return "execve";
    case Syscall::kCapset: return "capset";
    case Syscall::kStatx: return "statx";
    case Syscall::kLandlockAddRule: return "landlock_add_rule";
    case Syscall::kLandlockRestrictSelf: return "landlock_restrict_self";
    case Syscall::kSeccomp: return "seccomp";
    case Syscall::kSetns: return "setns";
    case Syscall::kMount: return "mount";
    case Syscall::kMountSetattr: return "mount_setattr";
    case Syscall::kOpenat2: return "openat2";
    case Syscall::kMkdir: return "mkdirat";
    case Syscall::kSymlink: return "symlinkat";
    case Syscall::kPivotRoot: return "pivot_root";
    case Syscall::kUmount2: return "umount2";
    case Syscall::kSethostname: return "sethostname";
    case Syscall::kSocket: return "socket";
    case Syscall::kIoctl: return "ioctl";
    case Syscall::kExecveat: return "execveat";
    case Syscall::kClone: return "clone";
    case Syscall::kPpoll: return "ppoll";
  }
  return "unknown";
}

namespace {

// Where failures go. The error pipe's write end may have to move out of the way of the stdio
// targets, so the child tracks its current number here (on the child's own stack).
struct Reporter {
  int fd;

  [[noreturn]] void Fail(Stage stage, Syscall syscall, long negErrno) const {
    ChildError rec = {static_cast<int32_t>(stage), static_cast<int32_t>(syscall),
                      static_cast<int32_t>(-negErrno)};
    // Nothing useful can be done if this fails: the parent then sees EOF and a dead child.
    (void)sys::Write(fd, &rec, sizeof rec);
    sys::Exit(127);
  }
};

// The mask of ignored signals (bit n-1 for signal n) from the "SigIgn:" line of
// /proc/self/status: this process's own dispositions, as the kernel keeps them. Only the
// kernel's procfs is believed (fstatfs): whatever else is mounted or linked there (a bind mount,
// FUSE, a FIFO, a device) could name fewer ignored signals than there are, or never end. The
// line's place depends on the lines before it (Groups grows with the supplementary groups), so
// the scan goes byte by byte across reads into a stack buffer, up to kMaxBytes (the line comes
// long before that even with 65536 groups). false for anything unexpected (no /proc, not procfs,
// a read error, no such line, not 1-16 hex digits): the caller then resets every signal.
bool ReadIgnoredSignals(uint64_t* mask) {
  long fd = sys::OpenProcFile("/proc/self/status");
  if (fd < 0) return false;
  if (sys::IsProcfs(static_cast<int>(fd)) != 1) {
    sys::Close(static_cast<int>(fd));
    return false;
  }
  constexpr long kMaxBytes = 1 << 20;
  long total = 0;
  static constexpr char kKey[] = "\nSigIgn:\t";  // never the first line (that is Name:)
  constexpr int kKeyLength = sizeof kKey - 1;
  int matched = 0;  // characters of kKey seen so far; kKeyLength: inside the value
  int digits = 0;
  uint64_t value = 0;
  enum { kScanning, kFound, kBad } state = kScanning;
  char buf[2048];  // the file up to SigIgn: is about 1 KiB, one read
  while (state == kScanning) {
    long n = sys::Read(static_cast<int>(fd), buf, sizeof buf);
    if (n <= 0 || (total += n) > kMaxBytes) {
      state = kBad;  // a read error, the end of the file before the line ended, or no end
      break;
    }
    for (long i = 0; i < n && state == kScanning; i++) {
      const char c = buf[i];
      if (matched < kKeyLength) {
        // kKey has no other '\n' than its first: a mismatch restarts at 0, or at 1 on a '\n'.
        matched = c == kKey[matched] ? matched + 1 : c == '\n' ? 1 : 0;
        continue;
      }
      int nibble = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (c == '\n') {
        state = digits > 0 ? kFound : kBad;
      } else if (nibble >= 0 && digits < 16) {
        value = value << 4 | static_cast<uint64_t>(nibble);
        digits++;
      } else {
        state = kBad;
      }
    }
  }
  sys::Close(static_cast<int>(fd));
  if (state != kFound) return false;
  *mask = value;
  return true;
}

// Handlers: the parent's, in a child that shares its memory, must never run, and execve resets
// them only at its end. Ignored signals: Node ignores SIGPIPE and SIGXFSZ, an embedder or addon
// (or whoever started the supervisor, above signal 31, which Node leaves as it found them) may
// ignore others, and SIG_IGN survives execve. Every signal goes back to SIG_DFL: one
// rt_sigaction each, 62 calls (~65 µs on a 2-core VM, the parent suspended all along). Where the
// clone already reset every handler (CLONE_CLEAR_SIGHAND keeps SIG_IGN as it is), only the ignored
// signals are left: the kernel lists them in /proc/self/status (open, fstatfs, read, close),
// usually two. Anything unexpected there falls back to all 62, and only procfs is read, so no
// other file can leave a signal ignored; and no answer at all can leave a handler installed.
long ResetSignalDispositions(bool handlersCleared) {
  uint64_t ignored;
  if (!handlersCleared || !ReadIgnoredSignals(&ignored)) ignored = ~0ULL;  // all of them
  for (int sig = 1; sig <= sys::kLastSignal; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sig <= 64 && (ignored & (1ULL << (sig - 1))) == 0) continue;
    long r = sys::SetDefaultAction(sig);
    if (r < 0) return r;
  }
  return 0;
}

// Parse a /proc/self/fd entry name; -1 for "." and "..".
int ParseFd(const char* name) {
  if (*name == '\0') return -1;
  int fd = 0;
  for (; *name; name++) {
    if (*name < '0' || *name > '9') return -1;
    fd = fd * 10 + (*name - '0');
  }
  return fd;
}

// The descriptors that must survive step 6 (-1 where unused): the error pipe, Landlock's ruleset
// (for step 10b), and for a pid namespace's init the init executable and the status pipe.
struct Keep {
  static constexpr int kCount = 4;
  int fds[kCount];
  bool Has(int fd) const {
    for (int k : fds) {
      if (fd == k) return true;
    }
    return false;
  }
};

// The last-resort bound: every fd this process could have opened is below its soft
// RLIMIT_NOFILE, which is still the supervisor's here (the child's own applies after step 6).
// Asked only on the path that needs it (no close_range, no /proc), not by the parent per spawn.
int CloseBound() {
  uint64_t cur = 0;
  if (sys::SoftRlimit(RLIMIT_NOFILE, &cur) < 0 || cur == ~0ULL) return 65536;
  if (cur > (1 << 20)) return 1 << 20;
  return static_cast<int>(cur);
}

// Close every fd >= first except the kept ones, without close_range (Linux < 5.9, or forced by a
// test): walk /proc/self/fd with getdents64 into a stack buffer. procfs numbers its entries by
// fd, so closing while walking does not skip any. Without /proc (macOS; an isolated view without
// it), close every number below CloseBound().
long CloseFdsFallback(int first, const Keep& keep) {
  long dir = sys::OpenDirectory("/proc/self/fd");
  if (dir < 0) {
    const int bound = CloseBound();
    for (int fd = first; fd < bound; fd++) {
      if (!keep.Has(fd)) sys::Close(fd);  // EBADF for the unused numbers: expected
    }
    return 0;
  }
  alignas(8) char buf[2048];
  for (;;) {
    long n = sys::Getdents(static_cast<int>(dir), buf, sizeof buf);
    if (n < 0) {
      sys::Close(static_cast<int>(dir));
      return n;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      // struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[]
      const char* ent = buf + off;
      unsigned short reclen = *reinterpret_cast<const unsigned short*>(ent + 16);
      int fd = ParseFd(ent + 19);
      if (fd >= first && !keep.Has(fd) && fd != dir) sys::Close(fd);
      off += reclen;
    }
  }
  sys::Close(static_cast<int>(dir));
  return 0;
}

// close_range over the gaps between the kept fds, from first to the end.
long CloseRangesExcept(int first, const Keep& keep) {
  int kept[Keep::kCount];
  int n = 0;
  for (int fd : keep.fds) {
    if (fd >= first) kept[n++] = fd;
  }
  for (int i = 1; i < n; i++) {  // at most four: insertion sort
    for (int j = i; j > 0 && kept[j - 1] > kept[j]; j--) {
      int t = kept[j];
      kept[j] = kept[j - 1];
      kept[j - 1] = t;
    }
  }
  unsigned from = static_cast<unsigned>(first);
  for (int i = 0; i < n; i++) {
    unsigned k = static_cast<unsigned>(kept[i]);
    if (k > from) {
      long r = sys::CloseRange(from, k - 1);
      if (r < 0) return r;
    }
    from = k + 1;
  }
  return sys::CloseRange(from, ~0U);
}

}  // namespace

[[noreturn]] void RunChild(const ChildPlan& p) {
  Reporter out = {p.errFd};
  long r;
#ifdef __linux__
  const IsolationPlan* iso = p.isolation;
  const bool viaInit = iso != nullptr && iso->initFd >= 0;
  const bool newPidNs = iso != nullptr && (iso->cloneFlags & CLONE_NEWPID) != 0;
#else
  const bool viaInit = false, newPidNs = false;
#endif
  // The descriptors step 6 keeps; the error pipe's number may change in step 5. Landlock's
  // ruleset is above n already (the parent made sure) and keeps its number.
  Keep keep = {{out.fd, p.keepFd, -1, -1}};
#ifdef __linux__
  if (viaInit) {
    keep.fds[2] = iso->initFd;
    keep.fds[3] = iso->statusFd;
  }
#endif

  // 1. Signal dispositions back to default: every handler (the parent's, which must not run in
  //    this child) and every ignored signal (SIG_IGN outlives execve). All signals are blocked
  //    (the parent blocked them before the clone), so nothing can run one of the parent's
  //    handlers in the meantime. Where the clone reset the handlers (p.handlersCleared), only
  //    the ignored signals are left: a few calls instead of 62.
  if ((r = ResetSignalDispositions(p.handlersCleared)) < 0)
    out.Fail(Stage::kSignals, Syscall::kRtSigaction, r);

  // 2. A session (and process group) of its own, so the tree can be signalled as a whole.
  if (p.setsid && (r = sys::Setsid()) < 0) out.Fail(Stage::kSetsid, Syscall::kSetsid, r);

  // 3. cgroups: join each directory whose cgroup.procs the parent opened by writing "0" (this
  //    process): every v1 hierarchy, and the v2 directory where the child was not already born
  //    into it by CLONE_INTO_CGROUP (hybrid hosts, kernels before 5.7).
  for (size_t i = 0; i < p.cgroupProcsCount; i++) {
    if ((r = sys::Write(p.cgroupProcsFds[i], "0", 1)) < 0)
      out.Fail(Stage::kCgroup, Syscall::kWrite, r);
  }

  // 4. While still privileged: oom_score_adj back to 0 (the parent checked that its own is
  //    lower; raising it needs no privilege, lowering would), then (4b) the isolation, then the
  //    rlimits, soft = hard so the program cannot raise them again.
  if (p.resetOomScoreAdj) {
    long fd = sys::OpenWriteOnly("/proc/self/oom_score_adj");
    if (fd < 0) out.Fail(Stage::kOomScoreAdj, Syscall::kOpen, fd);
    r = sys::Write(static_cast<int>(fd), "0", 1);
    sys::Close(static_cast<int>(fd));
    if (r < 0) out.Fail(Stage::kOomScoreAdj, Syscall::kWrite, r);
  }

#ifdef __linux__
  // 4b. Isolation (native/linux/isolation_child.cc), in the namespaces the clone made: the
  //     user namespace's id maps, a spare network namespace joined, the filesystem view (mounts
  //     private, the new root, pivot_root, the old root detached), hostname, loopback up.
  if (iso != nullptr) {
    StepFailure fail;
    if (!ApplyIsolation(*iso, &fail)) out.Fail(fail.stage, fail.syscall, fail.err);
  }
#endif

  //    RLIMIT_NOFILE waits until step 6: the stdio shuffle needs free numbers above the
  //    supervisor's open fds, which a small limit would forbid (EMFILE).
  for (size_t i = 0; i < p.rlimitCount; i++) {
    if (p.rlimits[i].resource == RLIMIT_NOFILE) continue;
    if ((r = sys::SetRlimit(p.rlimits[i].resource, p.rlimits[i].value)) < 0)
      out.Fail(Stage::kRlimit, Syscall::kPrlimit, r);
  }

  // 5. stdio in two passes. First copy every source, and the error pipe, to numbers >= n
  //    (F_DUPFD_CLOEXEC picks a free number, it never replaces one), so that no target 0..n-1
  //    can clobber a source that happens to be numbered 0..n-1. Then dup3 each copy onto its
  //    target, which also clears close-on-exec on the target.
  const int n = static_cast<int>(p.stdioCount);
  for (int i = 0; i < n; i++) {
    if ((r = sys::DupAbove(p.stdio[i], n)) < 0) out.Fail(Stage::kStdio, Syscall::kFcntl, r);
    p.stdioScratch[i] = static_cast<int>(r);
  }
  //    The kept descriptors (the error pipe; the init's executable and status pipe) too.
  for (int& fd : keep.fds) {
    if (fd < 0 || fd >= n) continue;
    if ((r = sys::DupAbove(fd, n)) < 0) out.Fail(Stage::kStdio, Syscall::kFcntl, r);
    fd = static_cast<int>(r);  // the old number is replaced or closed below
  }
  out.fd = keep.fds[0];
  for (int i = 0; i < n; i++) {
    if ((r = sys::DupTo(p.stdioScratch[i], i)) < 0) out.Fail(Stage::kStdio, Syscall::kDup3, r);
  }
  //    Programs expect blocking stdin, stdout and stderr; a supervisor's stream (a socket or
  //    pipe end Node opened O_NONBLOCK, given as a child's stdio) would make their reads fail
  //    with EAGAIN. O_NONBLOCK belongs to the open file description, shared with whoever else
  //    holds it: libuv clears it on fds 0-2 in the child all the same, and so do we.
  for (int i = 0; i < n && i <= 2; i++) {
    if ((r = sys::GetStatusFlags(i)) < 0) out.Fail(Stage::kStdio, Syscall::kFcntl, r);
    if ((r & O_NONBLOCK) != 0 &&
        (r = sys::SetStatusFlags(i, r & ~static_cast<long>(O_NONBLOCK))) < 0)
      out.Fail(Stage::kStdio, Syscall::kFcntl, r);
  }

  // 6. Close everything else, except the error pipe (close-on-exec: execve closes it, which is
  //    how the parent learns that exec succeeded), p.keepFd (Landlock's ruleset, for step 10b;
  //    close-on-exec too) and the init's two descriptors.
  r = -ENOSYS;
  if (p.useCloseRange) r = CloseRangesExcept(n, keep);
  if (r == -ENOSYS || r == -EINVAL) {
    if ((r = CloseFdsFallback(n, keep)) < 0) out.Fail(Stage::kCloseFds, Syscall::kGetdents, r);
  } else if (r < 0) {
    out.Fail(Stage::kCloseFds, Syscall::kCloseRange, r);
  }

  //    Only 0..n-1 and the error pipe are open now: the open-files limit can apply (still
  //    privileged, so it may exceed the supervisor's own hard limit).
  for (size_t i = 0; i < p.rlimitCount; i++) {
    if (p.rlimits[i].resource != RLIMIT_NOFILE) continue;
    if ((r = sys::SetRlimit(p.rlimits[i].resource, p.rlimits[i].value)) < 0)
      out.Fail(Stage::kRlimit, Syscall::kPrlimit, r);
  }

  // 7. Identity: groups, then gid, then uid (after setresuid we could no longer change the
  //    others). Each failure is fatal: a child must never run with ids it was not given.
  if (p.setGroups && (r = sys::SetGroups(p.groupCount, p.groups)) < 0)
    out.Fail(Stage::kSetgroups, Syscall::kSetgroups, r);
  if (p.setGid && (r = sys::SetResGid(p.gid)) < 0)
    out.Fail(Stage::kSetresgid, Syscall::kSetresgid, r);
  if (p.setUid && (r = sys::SetResUid(p.uid)) < 0)
    out.Fail(Stage::kSetresuid, Syscall::kSetresuid, r);

#ifdef __linux__
  const ChildGuards* g = p.guards;
  Syscall failed;
  // 7b. Capabilities of a uid-0 child: bounding set down to the kept ones, securebits locked,
  //     the kept ones inheritable and ambient (linux/capabilities.cc). Now, while the ids are
  //     final and CAP_SETPCAP still effective; before chdir, so that the working directory is
  //     checked with the capabilities the program will have.
  if (g && g->capabilities && (r = caps::Apply(g->caps, &failed)) < 0)
    out.Fail(Stage::kCapabilities, failed, r);
#endif

  // 8. The working directory, now checked with the target user's permissions.
  if (p.cwd != nullptr && (r = sys::Chdir(p.cwd)) < 0) out.Fail(Stage::kChdir, Syscall::kChdir, r);

  // 9. No regaining privileges through setuid binaries or file capabilities.
  if (p.noNewPrivs && (r = sys::SetNoNewPrivs()) < 0)
    out.Fail(Stage::kNoNewPrivs, Syscall::kPrctl, r);

  // 10. Parent-death signal. Set after the id change (changing credentials clears it). If the
  //     parent already died, the child was reparented before the signal was armed: stop now.
  if (p.pdeathsig != 0) {
    if ((r = sys::SetPdeathsig(p.pdeathsig)) < 0) out.Fail(Stage::kPdeathsig, Syscall::kPrctl, r);
#ifdef __linux__
    // In a new pid namespace the parent is outside it and getppid() says 0: ask the error
    // pipe instead, whose read end only the parent holds now (step 6 closed the child's).
    if (newPidNs) {
      if ((r = sys::PipeHasReader(out.fd)) < 0) out.Fail(Stage::kPdeathsig, Syscall::kPpoll, r);
      if (r == 0) out.Fail(Stage::kPdeathsig, Syscall::kPpoll, -ESRCH);
    }
#endif
    if (!newPidNs && sys::Getppid() != p.parentPid)
      out.Fail(Stage::kPdeathsig, Syscall::kGetppid, -ESRCH);
  }

#ifdef __linux__
  // 10b. Landlock: add the paths this child made itself (its own mounts), then restrict to the
  //      ruleset the parent built (linux/landlock.cc). Needs no_new_privs (step 9) or
  //      CAP_SYS_ADMIN; after it, the child can reach only what the rules grant, execve included.
  if (g && g->landlock && (r = landlock::Apply(g->landlockPlan, &failed)) < 0)
    out.Fail(Stage::kLandlock, failed, r);
#endif

  // 11. The program starts with nothing blocked (Node's main thread blocks SIGUSR1 for the
  //     inspector, and we blocked everything around the clone). The init of a pid namespace
  //     keeps everything blocked: it takes signals with sigtimedwait (a pid 1 drops a signal
  //     it has no handler for, unless it is blocked) and unblocks them for the program.
  if (!viaInit && (r = sys::UnblockAllSignals()) < 0)
    out.Fail(Stage::kSigmask, Syscall::kSigprocmask, r);

#ifdef __linux__
  // 11b. The system call filter, last: every step before may use what it denies, and after it
  //      only execve runs (linux/seccomp.cc). Needs no_new_privs or CAP_SYS_ADMIN, as 10b. It
  //      holds for the init of a pid namespace too, which needs only its few calls.
  if (g && g->seccomp && (r = seccomp::Install(g->seccomp)) < 0)
    out.Fail(Stage::kSeccomp, Syscall::kSeccomp, r);
#endif

    // 12. Exec. On success the error pipe closes and the parent reads EOF.
#ifdef __linux__
  //     With a private pid namespace this is the init (native/linux/init), run from its fd
  //     whatever the new root holds. It inherits the error pipe and the status pipe (their
  //     numbers in its argv) and closes its copy of the error pipe once it has started the
  //     program, so the parent's EOF still means "the program was exec'd".
  if (viaInit) {
    AppendDecimal(iso->errFdText, out.fd);
    AppendDecimal(iso->statusFdText, keep.fds[3]);
    if ((r = sys::SetCloexec(out.fd, false)) < 0) out.Fail(Stage::kInit, Syscall::kFcntl, r);
    if ((r = sys::SetCloexec(keep.fds[3], false)) < 0) out.Fail(Stage::kInit, Syscall::kFcntl, r);
    r = sys::Execveat(keep.fds[2], iso->initArgv, p.envp);
    sys::SetCloexec(out.fd, true);
    out.Fail(Stage::kInit, Syscall::kExecveat, r);
  }
#endif
  r = sys::Execve(p.file, p.argv, p.envp);
  out.Fail(Stage::kExecve, Syscall::kExecve, r);
}

}  // namespace confine
