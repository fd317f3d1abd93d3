// pidfds: a file descriptor that names one process for its whole life, so a signal sent through
// it can never reach a process that later reuses the pid.
#pragma once

#include <sys/types.h>

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

}  // namespace pidfd
}  // namespace confine
