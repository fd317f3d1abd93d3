// confine-init: pid 1 of a tree's private pid namespace (processes: 'private').
//
// The first process of a pid namespace is special to the kernel: a signal it has no handler for
// is dropped (even one from the supervisor, except SIGKILL and SIGSTOP from an ancestor
// namespace), orphans of the namespace are reparented to it, and when it ends every other
// process of the namespace is killed. So the program does not run as pid 1; this small init does:
//
//   1. it starts the program (fork, then execve in the child) with everything it was given:
//      the ids, rlimits, cwd, stdio and environment the supervisor's child set up before
//      exec'ing this init (native/posix/child.cc);
//   2. it forwards every signal it can catch to the program; a signal queued by the supervisor
//      with the tree marker (sigqueue value kTreeSignal) goes to every process of the namespace
//      instead, so a tree-wide signal reaches each process once (never once directly and once
//      forwarded);
//   3. it reaps every orphan the namespace hands it;
//   4. when the program ends, it writes the program's wait status to the status pipe and exits:
//      the kernel then kills whatever is left in the namespace (a daemon that double-forked
//      inside dies with the tree). A pid 1 cannot end itself by a signal from inside its
//      namespace, so the status pipe is how the program's own exit code or signal reaches the
//      supervisor; EOF without a record means the init itself was killed.
//
// It is a static executable without libc (raw system calls only: it must start fast and run
// whatever the new root holds), exec'd by the supervisor's child from an fd (execveat), with
//   argv = [name, error-pipe fd, status-pipe fd, program path, program argv...]
// and the program's environment. All signals arrive blocked (the child never unblocked them) and
// stay blocked: the init takes them with rt_sigtimedwait. Until the program is exec'd, the init
// and the program hold the supervisor's error pipe: a failure to start the program is reported
// through it as a ChildError record, exactly as the child reports one.
#include "../../posix/child.h"
#include "init_protocol.h"
#include "init_sys.h"

namespace {

using confine::ChildError;
using confine::Stage;
using confine::Syscall;
namespace sys = confine::init_sys;

constexpr int kSigchld = 17;
constexpr int kSiQueue = -1;
constexpr int kWnohang = 1;
constexpr int kFdCloexec = 1;
constexpr int kFSetfd = 2;

// The kernel's siginfo_t: 128 bytes; si_signo, si_errno, si_code, then for SI_QUEUE the sender's
// pid and uid and the sigval (an int at offset 24 on 64-bit architectures).
struct SigInfo {
  int signo;
  int err;
  int code;
  int pad;
  int pid;
  unsigned uid;
  int value;
  char rest[128 - 28];
};

int ParseFd(const char* s) {
  if (s == nullptr || *s == '\0') return -1;
  int v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 100000000) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

[[noreturn]] void Fail(int errFd, Stage stage, Syscall syscall, long negErrno) {
  ChildError rec = {static_cast<int32_t>(stage), static_cast<int32_t>(syscall),
                    static_cast<int32_t>(-negErrno)};
  if (errFd >= 0) sys::Write(errFd, &rec, sizeof rec);
  sys::Exit(127);
}

// Close every descriptor but keep (the status pipe): the init needs none of the program's.
void CloseAllBut(int keep) {
  if (keep > 0 && sys::CloseRange(0, static_cast<unsigned>(keep) - 1) == -38 /* ENOSYS */) {
    for (int fd = 0; fd < keep; fd++) sys::Close(fd);
    for (int fd = keep + 1; fd < 1024; fd++) sys::Close(fd);
    return;
  }
  if (sys::CloseRange(static_cast<unsigned>(keep) + 1, ~0U) == -38) {
    for (int fd = keep + 1; fd < 1024; fd++) sys::Close(fd);
  }
}

// What the program's side of the vfork needs (on the init's stack: shared memory).
struct ProgramStart {
  int errFd;
  int statusFd;
  char** argv;
  char** envp;
};

// The program's side: no status pipe, the error pipe closes at exec, nothing blocked. It runs
// on its own stack in the init's memory (vfork), so only system calls.
int StartProgram(void* arg) {
  const ProgramStart& s = *static_cast<const ProgramStart*>(arg);
  sys::Close(s.statusFd);
  sys::Fcntl(s.errFd, kFSetfd, kFdCloexec);
  uint64_t none = 0;
  sys::SigprocmaskSet(&none);
  long r = sys::Execve(s.argv[3], s.argv + 4, s.envp);
  Fail(s.errFd, Stage::kExecve, Syscall::kExecve, r);
}

// The program's stack while it runs in the init's memory, until its exec.
alignas(16) char programStack[16384];

}  // namespace

extern "C" long confine_init_vfork(int (*fn)(void*), void* arg, void* stackTop);

extern "C" [[noreturn]] void confine_init_main(long* sp) {
  const long argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  char** envp = argv + argc + 1;
  const int errFd = argc > 1 ? ParseFd(argv[1]) : -1;
  const int statusFd = argc > 2 ? ParseFd(argv[2]) : -1;
  if (argc < 5 || errFd < 0 || statusFd < 0) Fail(errFd, Stage::kInit, Syscall::kExecveat, -22);

  // Everything blocked (already so; made sure of here, before the program exists).
  uint64_t all = ~0ULL;
  sys::SigprocmaskSet(&all);

  // vfork: the program's side runs first and at once, on this CPU; the init resumes when it has
  // exec'd (a fork measured ~0.8 ms slower to the program's exec under load: a second wakeup).
  ProgramStart start = {errFd, statusFd, argv, envp};
  long pid = confine_init_vfork(StartProgram, &start, programStack + sizeof programStack);
  if (pid < 0) Fail(errFd, Stage::kInit, Syscall::kClone, pid);
  // The program holds the error pipe until its exec; the init is done with it, and with stdio.
  CloseAllBut(statusFd);

  for (;;) {
    SigInfo info;
    long sig = sys::Sigtimedwait(&all, &info);
    if (sig < 0) continue;  // EINTR (a stop and continue of the init): wait again
    if (sig == kSigchld) {
      // Reap everything that has ended: the program and any orphan handed to us.
      for (;;) {
        int status = 0;
        long r = sys::Wait4(-1, &status, kWnohang);
        if (r <= 0) break;  // 0: none ready now; ECHILD: none left
        if (r == pid) {
          // The program's own end: tell the supervisor, then end the namespace.
          sys::Write(statusFd, &status, sizeof status);
          sys::Exit(0);
        }
      }
      continue;
    }
    if (info.code == kSiQueue && info.value == confine::kTreeSignal) {
      // A tree-wide signal from the supervisor: every process of the namespace but us.
      sys::Kill(-1, static_cast<int>(sig));
    } else {
      sys::Kill(static_cast<int>(pid), static_cast<int>(sig));
    }
  }
}
