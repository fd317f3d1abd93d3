// Signals to children we started.
#pragma once

#include <sys/types.h>

namespace confine {

// Through the pidfd when there is one (a reused pid can never be hit), kill() otherwise.
// Returns 0 or an errno value. pid <= 0 is refused with EINVAL: kill(0) and kill(-1) would
// reach our own group or every process we may signal.
int SendSignal(pid_t pid, int pidfd, int sig);
// Linux: a signal for every process of a tree whose leader is our init of a private pid
// namespace (native/linux/init): queued to the init with the tree marker as its value, so the
// init sends it on to every process of its namespace. Through the pidfd when there is one,
// rt_sigqueueinfo otherwise. 0 or an errno value (ENOSYS elsewhere).
int SendTreeSignal(pid_t pid, int pidfd, int sig);
// kill(-pgid, sig). pgid <= 1 is refused with EINVAL for the same reason.
int KillGroup(pid_t pgid, int sig);

}  // namespace confine
