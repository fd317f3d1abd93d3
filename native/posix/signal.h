// Signals to children we started.
#pragma once

#include <sys/types.h>

namespace confine {

// Through the pidfd when there is one (a reused pid can never be hit), kill() otherwise.
// Returns 0 or an errno value. pid <= 0 is refused with EINVAL: kill(0) and kill(-1) would
// reach our own group or every process we may signal.
int SendSignal(pid_t pid, int pidfd, int sig);
// kill(-pgid, sig). pgid <= 1 is refused with EINVAL for the same reason.
int KillGroup(pid_t pgid, int sig);

}  // namespace confine
