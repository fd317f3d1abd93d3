// StartChild for macOS and other non-Linux POSIX systems: fork, then the same RunChild as on
// Linux. The forked child has its own copy of memory, so RunChild's async-signal-safe libc calls
// are fine there (child_sys.h). Not built on Linux.
#ifndef __linux__

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "start_child.h"

namespace confine {

StartResult StartChild(ChildPlan& plan, const StartOptions& opts) {
  StartResult res;
  plan.handlersCleared = false;  // fork copies every handler: the child resets them all
  if (opts.cgroupFd >= 0) {      // cgroups are Linux-only; lib/ never asks for one here
    res.err = ENOSYS;
    res.syscall = "fork";
    res.cgroupPlacement = true;
    return res;
  }
  // Block everything around fork, so no handler of ours runs in the child before RunChild has
  // reset the dispositions; RunChild empties the mask right before execve.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) RunChild(plan);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    res.err = err;
    res.syscall = "fork";
    return res;
  }
  res.pid = pid;
  return res;
}

}  // namespace confine

#endif  // !__linux__
