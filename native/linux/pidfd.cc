#include "pidfd.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

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
  int fd = Open(getpid());
  if (fd < 0) return false;
  close(fd);
  return true;
}

bool ProbeSendSignal() {
  int fd = Open(getpid());
  if (fd < 0) return false;
  bool ok = SendSignal(fd, 0) == 0;
  close(fd);
  return ok;
}

}  // namespace pidfd
}  // namespace confine
