// pidfds: a file descriptor that names one process for its whole life, so a signal sent through
// it can never reach a process that later reuses the pid.
#pragma once

#include <sys/types.h>

#include "../posix/fd.h"

namespace confine {
namespace pidfd {

// pidfd_open(pid, 0): the fd, or -errno.
int Open(pid_t pid);
// pidfd_send_signal(fd, sig, NULL, 0): 0 or an errno value.
int SendSignal(int fd, int sig);
// pidfd_send_signal(fd, sig, info, 0) with a siginfo_t the caller filled (sigqueue-like).
int SendSignalInfo(int fd, int sig, void* info);
// pidfd_open works on this kernel (opened on ourselves, then closed).
bool ProbeOpen();
// pidfd_send_signal works (signal 0 to ourselves through a pidfd: a permission check only).
bool ProbeSendSignal();

// Whether fd, held across turns of the event loop, is still the pidfd of pid we opened, exactly:
// user code that closes its number by mistake (a double close) may have another file there now.
// Its "dev:ino" alone is exact only with pidfs (Linux 6.9+); before, every pidfd shares one
// anonymous inode with eventfd, epoll, timerfd, signalfd and inotify fds and with every other
// process's pidfd. So, after that fstat: kcmp(KCMP_FILE) against `ref`, a copy known to be the
// same open file (one syscall); where kcmp cannot tell (absent: ENOSYS, refused by a seccomp
// policy: EPERM) or says they differ (then one of the two is not ours), the `Pid:` line of
// /proc/self/fdinfo/<fd>. Where neither can be read, the dev:ino check stands alone.
bool StillOurs(int fd, const FdId& id, pid_t pid, int ref);
// kcmp(KCMP_FILE): 1 when a and b are the same open file, 0 when not (or one is not open), -1
// when it cannot tell.
int SameOpenFile(int a, int b);

}  // namespace pidfd
}  // namespace confine
