#include "signal.h"

#include <errno.h>
#include <signal.h>

#ifdef __linux__
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../linux/init/init_protocol.h"
#include "../linux/pidfd.h"
#include "process_id.h"
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

int SendTreeSignal(pid_t pid, int pidfd, int sig) {
#ifdef __linux__
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = SI_QUEUE;
  info.si_pid = OwnPid();
  info.si_uid = getuid();
  info.si_value.sival_int = kTreeSignal;
  if (pidfd >= 0) return pidfd::SendSignalInfo(pidfd, sig, &info);
  if (pid <= 0) return EINVAL;
  return syscall(SYS_rt_sigqueueinfo, pid, sig, &info) == 0 ? 0 : errno;
#else
  (void)pid;
  (void)pidfd;
  (void)sig;
  return ENOSYS;
#endif
}

int KillGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return EINVAL;
  return kill(-pgid, sig) == 0 ? 0 : errno;
}

}  // namespace confine
