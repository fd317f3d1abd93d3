// The system calls the child makes, one small function each, returning the result or -errno.
//
// Linux: the child shares the parent's memory (CLONE_VM), so every call goes straight to the
// kernel through syscall(2) instead of a libc wrapper. Wrappers are wrong here in two ways:
// some keep process-wide state (glibc's setuid/setgroups family signal every thread of the
// process so that all of them change ids, which in a CLONE_VM child would reach the parent's
// threads and its locks; raise() targets the cached tid of the parent's thread; sigaction()
// refuses glibc's internal signals), and any of them may take a lock the suspended parent holds.
// syscall(2) is a plain stub, bound at load time (-z now, see binding.gyp) so no lazy symbol
// resolution runs in the child. It stores errno on failure: errno is thread-local and the child
// runs with the parent thread's thread pointer, so it writes the parent thread's errno while
// that thread is suspended by CLONE_VFORK; the parent saves and restores errno around the clone.
// That is the one shared word the child touches, read here at once and turned into -errno.
//
// macOS: the child is a fork()ed copy, so the async-signal-safe libc calls are the interface.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/magic.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#endif

namespace confine {
namespace sys {

#ifdef __linux__

inline long Ret(long r) { return r == -1 ? -static_cast<long>(errno) : r; }

// The kernel's own sigaction layout differs between architectures, but SIG_DFL with no flags,
// no restorer and an empty mask is all zeros in every one of them.
struct KernelSigaction {
  unsigned long words[4] = {0, 0, 0, 0};
};
constexpr int kLastSignal = 64;           // _NSIG - 1 on x86 and arm (not MIPS)
constexpr unsigned long kSigsetSize = 8;  // the kernel's sigset_t, in bytes

inline long SetDefaultAction(int sig) {
  KernelSigaction dfl;
  return Ret(syscall(SYS_rt_sigaction, sig, &dfl, nullptr, kSigsetSize));
}
inline long UnblockAllSignals() {
  uint64_t empty = 0;
  return Ret(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, kSigsetSize));
}
inline long Setsid() { return Ret(syscall(SYS_setsid)); }
inline long Write(int fd, const void* buf, size_t len) {
  return Ret(syscall(SYS_write, fd, buf, len));
}
inline long OpenWriteOnly(const char* path) {
  return Ret(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC));
}
// A file of the kernel's procfs, read-only: never blocking at the open or the reads (a FIFO put
// in its place), never following a symbolic link in its last component; IsProcfs says whether
// the open file really is on procfs.
inline long OpenProcFile(const char* path) {
  return Ret(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW));
}
inline long IsProcfs(int fd) {
  struct statfs fs;
  long r = Ret(syscall(SYS_fstatfs, fd, &fs));
  return r < 0 ? r : fs.f_type == PROC_SUPER_MAGIC;
}
inline long OpenDirectory(const char* path) {
  return Ret(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}
inline long Read(int fd, void* buf, size_t len) { return Ret(syscall(SYS_read, fd, buf, len)); }
inline long Getdents(int fd, void* buf, size_t len) {
  return Ret(syscall(SYS_getdents64, fd, buf, len));
}
inline long Close(int fd) { return Ret(syscall(SYS_close, fd)); }
inline long SetRlimit(int resource, uint64_t value) {
  struct {
    uint64_t cur, max;
  } lim = {value, value};
  return Ret(syscall(SYS_prlimit64, 0, resource, &lim, nullptr));
}
// The soft limit of resource into *cur (RLIM_INFINITY as ~0), or -errno.
inline long SoftRlimit(int resource, uint64_t* cur) {
  struct {
    uint64_t cur, max;
  } lim;
  long r = Ret(syscall(SYS_prlimit64, 0, resource, nullptr, &lim));
  if (r == 0) *cur = lim.cur;
  return r;
}
inline long DupAbove(int fd, int min) { return Ret(syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, min)); }
// dup3 with no flags: the copy does not have O_CLOEXEC, whatever the source had.
inline long DupTo(int from, int to) { return Ret(syscall(SYS_dup3, from, to, 0)); }
inline long GetStatusFlags(int fd) { return Ret(syscall(SYS_fcntl, fd, F_GETFL)); }
inline long SetStatusFlags(int fd, long flags) {
  return Ret(syscall(SYS_fcntl, fd, F_SETFL, flags));
}
#ifdef SYS_close_range
inline long CloseRange(unsigned first, unsigned last) {
  return Ret(syscall(SYS_close_range, first, last, 0));
}
#else
inline long CloseRange(unsigned, unsigned) { return -ENOSYS; }
#endif
// 32-bit x86 and arm have 16-bit ids in the old calls; the *32 calls take full ids.
#ifdef SYS_setgroups32
inline long SetGroups(size_t n, const gid_t* g) { return Ret(syscall(SYS_setgroups32, n, g)); }
inline long SetResGid(gid_t g) { return Ret(syscall(SYS_setresgid32, g, g, g)); }
inline long SetResUid(uid_t u) { return Ret(syscall(SYS_setresuid32, u, u, u)); }
#else
inline long SetGroups(size_t n, const gid_t* g) { return Ret(syscall(SYS_setgroups, n, g)); }
inline long SetResGid(gid_t g) { return Ret(syscall(SYS_setresgid, g, g, g)); }
inline long SetResUid(uid_t u) { return Ret(syscall(SYS_setresuid, u, u, u)); }
#endif
inline long Chdir(const char* path) { return Ret(syscall(SYS_chdir, path)); }
inline long SetNoNewPrivs() { return Ret(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)); }
inline long SetPdeathsig(int sig) {
  return Ret(syscall(SYS_prctl, PR_SET_PDEATHSIG, sig, 0, 0, 0));
}
inline long Getppid() { return Ret(syscall(SYS_getppid)); }
inline long Execve(const char* file, char* const* argv, char* const* envp) {
  return Ret(syscall(SYS_execve, file, argv, envp));
}
[[noreturn]] inline void Exit(int status) {
  for (;;) syscall(SYS_exit_group, status);
}

#else  // macOS and other BSDs: a forked child, async-signal-safe libc calls

inline long Ret(long r) { return r == -1 ? -static_cast<long>(errno) : r; }

constexpr int kLastSignal = NSIG - 1;

inline long SetDefaultAction(int sig) {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  return Ret(sigaction(sig, &dfl, nullptr));
}
inline long UnblockAllSignals() {
  sigset_t empty;
  sigemptyset(&empty);
  return Ret(sigprocmask(SIG_SETMASK, &empty, nullptr));
}
inline long Setsid() { return Ret(setsid()); }
inline long Write(int fd, const void* buf, size_t len) { return Ret(write(fd, buf, len)); }
inline long OpenWriteOnly(const char* path) { return Ret(open(path, O_WRONLY | O_CLOEXEC)); }
inline long OpenProcFile(const char*) { return -ENOSYS; }  // no procfs
inline long IsProcfs(int) { return 0; }
inline long OpenDirectory(const char*) { return -ENOSYS; }
inline long Read(int fd, void* buf, size_t len) { return Ret(read(fd, buf, len)); }
inline long Getdents(int, void*, size_t) { return -ENOSYS; }
inline long Close(int fd) { return Ret(close(fd)); }
inline long SetRlimit(int resource, uint64_t value) {
  struct rlimit lim;
  lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(value);
  return Ret(setrlimit(resource, &lim));
}
inline long SoftRlimit(int resource, uint64_t* cur) {
  struct rlimit lim;
  long r = Ret(getrlimit(resource, &lim));
  if (r == 0) *cur = lim.rlim_cur == RLIM_INFINITY ? ~0ULL : static_cast<uint64_t>(lim.rlim_cur);
  return r;
}
inline long DupAbove(int fd, int min) { return Ret(fcntl(fd, F_DUPFD_CLOEXEC, min)); }
// dup2 clears FD_CLOEXEC on the new descriptor.
inline long DupTo(int from, int to) { return Ret(dup2(from, to)); }
inline long GetStatusFlags(int fd) { return Ret(fcntl(fd, F_GETFL)); }
inline long SetStatusFlags(int fd, long flags) {
  return Ret(fcntl(fd, F_SETFL, static_cast<int>(flags)));
}
inline long CloseRange(unsigned, unsigned) { return -ENOSYS; }
inline long SetGroups(size_t n, const gid_t* g) { return Ret(setgroups(static_cast<int>(n), g)); }
// No setresgid/setresuid here; for root, setgid/setuid set the real, effective and saved ids.
inline long SetResGid(gid_t g) { return Ret(setgid(g)); }
inline long SetResUid(uid_t u) { return Ret(setuid(u)); }
inline long Chdir(const char* path) { return Ret(chdir(path)); }
inline long SetNoNewPrivs() { return -ENOSYS; }
inline long SetPdeathsig(int) { return -ENOSYS; }
inline long Getppid() { return Ret(getppid()); }
inline long Execve(const char* file, char* const* argv, char* const* envp) {
  return Ret(execve(file, argv, envp));
}
[[noreturn]] inline void Exit(int status) { _exit(status); }

#endif

}  // namespace sys
}  // namespace confine
