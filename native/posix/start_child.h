// The one OS-specific step of spawn: create the child process and run RunChild(plan) in it.
// Linux: native/linux/clone.cc (clone3/clone with CLONE_VM|CLONE_VFORK). macOS: fork.cc.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "child.h"

namespace confine {

struct StartOptions {
  bool wantPidfd = true;     // Linux: CLONE_PIDFD
  int cgroupFd = -1;         // Linux: >= 0 → CLONE_INTO_CGROUP (clone3 only)
  uint64_t cloneFlags = 0;   // Linux: CLONE_NEW* namespaces for the child (isolation)
  bool clearSighand = true;  // Linux: CLONE_CLEAR_SIGHAND where clone3 has it (see child.cc)
};

struct StartResult {
  pid_t pid = -1;  // > 0: the child exists (it may already have failed and exited)
  int pidfd = -1;  // Linux, when the kernel gave one (O_CLOEXEC)
  int err = 0;     // pid < 0: why the child could not be created
  const char* syscall = nullptr;
  bool cgroupPlacement = false;  // the failure was the CLONE_INTO_CGROUP placement
  bool namespaces = false;       // the failure was the new namespaces (Linux, isolation)
};

// Returns once the child has exec'd or exited (Linux, CLONE_VFORK) or once it exists (fork).
// Blocks all signals in the calling thread around the clone and restores the mask after.
// Writes plan.handlersCleared (how the child was born) for the child to read.
StartResult StartChild(ChildPlan& plan, const StartOptions& opts);

}  // namespace confine
