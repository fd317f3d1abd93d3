// The kernel guards of a child, together: capabilities, Landlock and the system call filter.
// The parent prepares them from the request (PrepareGuards, once per distinct policy where it
// can: see seccomp.cc and landlock.cc); the child applies them after its identity change, in the
// order of child.cc: capabilities, (chdir, no_new_privs, pdeathsig,) Landlock, seccomp last.
#pragma once

#include <linux/filter.h>

#include <memory>

#include "../posix/spawn.h"
#include "capabilities.h"
#include "landlock.h"
#include "seccomp.h"

namespace confine {

// What the child reads (ChildPlan::guards). Plain memory, prepared by the parent.
struct ChildGuards {
  bool capabilities = false;
  caps::ChildPlan caps;
  bool landlock = false;
  landlock::ChildPlan landlockPlan;
  const sock_fprog* seccomp = nullptr;  // nullptr: no filter
};

// Everything a spawn's guards use, kept alive (and its fds open) until the child has exec'd.
struct PreparedGuards {
  ChildGuards child;
  std::shared_ptr<const seccomp::Filter> filter;
  landlock::Prepared landlock;
};

struct GuardFailure {
  const char* stage = nullptr;
  const char* syscall = nullptr;
  int err = 0;
};

// stdioCount: the child dup3s onto 0..stdioCount-1, so any fd it keeps must sit above.
bool PrepareGuards(const GuardRequest& req, int stdioCount, PreparedGuards* out, GuardFailure* why);

}  // namespace confine
