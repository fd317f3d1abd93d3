#include "signal.h"

#include <errno.h>
#include <signal.h>

#ifdef __linux__
#include "../linux/pidfd.h"
#endif

namespace confine {

int SendSignal(pid_t pid, int pidfd, int sig) {
#ifdef __linux__
  if (pidfd >= 0) return pidfd::SendSignal(pidfd, sig);
#else
  (void)pidfd;
#endif
  if (pid <= 0) return EINVAL;
  return kill(pid, sig) == 0 ? 0 : errno;
}

int KillGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return EINVAL;
  return kill(-pgid, sig) == 0 ? 0 : errno;
}

}  // namespace confine
