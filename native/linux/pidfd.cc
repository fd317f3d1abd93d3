#include "pidfd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "../posix/process_id.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace {
constexpr int kKcmpFile = 0;  // KCMP_FILE of <linux/kcmp.h>, which older headers lack
}

namespace confine {
namespace pidfd {

int Open(pid_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

int SendSignal(int fd, int sig) {
  return syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) == 0 ? 0 : errno;
}

int SendSignalInfo(int fd, int sig, void* info) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, 0) == 0 ? 0 : errno;
}

bool ProbeOpen() {
  int fd = Open(OwnPid());
  if (fd < 0) return false;
  close(fd);
  return true;
}

bool ProbeSendSignal() {
  int fd = Open(OwnPid());
  if (fd < 0) return false;
  bool ok = SendSignal(fd, 0) == 0;
  close(fd);
  return ok;
}

int SameOpenFile(int a, int b) {
#ifdef SYS_kcmp
  pid_t self = OwnPid();
  long r = syscall(SYS_kcmp, self, self, kKcmpFile, a, b);
  if (r == 0) return 1;
  if (r > 0 || errno == EBADF) return 0;
#else
  (void)a;
  (void)b;
#endif
  return -1;
}

namespace {

// 1: fd is a pidfd of pid; 0: it is not; -1: its fdinfo cannot be read (no /proc, no fd left).
int Names(int fd, pid_t pid) {
  char path[48];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  std::string text;
  FdResult r = ReadSmallFile(path, &text);
  if (r.err == ENOENT) return 0;  // not open any more
  if (r.err != 0) return -1;
  size_t at = text.find("\nPid:\t");
  if (at == std::string::npos) {
    // Not a pidfd (an eventfd, an epoll fd, a file), or one of a kernel before 5.5, whose
    // pidfd fdinfo has no Pid: line: its link tells which, not whose.
    char link[32] = {0};
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    return n > 0 && strcmp(link, "anon_inode:[pidfd]") == 0 ? -1 : 0;
  }
  return strtol(text.c_str() + at + 6, nullptr, 10) == pid ? 1 : 0;
}

}  // namespace

bool StillOurs(int fd, const FdId& id, pid_t pid, int ref) {
  if (!confine::StillOurs(fd, id)) return false;
  if (ref >= 0 && ref != fd && SameOpenFile(fd, ref) == 1) return true;
  return Names(fd, pid) != 0;
}

}  // namespace pidfd
}  // namespace confine
