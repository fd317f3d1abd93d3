// The supervisor's "dumpable" flag across a spawn (Linux).
//
// The child of a spawn shares the supervisor's memory (CLONE_VM|CLONE_VFORK) until it execs, and
// a uid change in it (setresuid/setresgid, runAs) makes the kernel set that shared memory's
// dumpable flag to fs.suid_dumpable (0 by default): the supervisor itself then stays non-dumpable
// (no core dump, PR_GET_DUMPABLE 0) after its first spawn with runAs. The flag is also what keeps
// the child's window safe: until its exec it runs as the target user in the supervisor's memory,
// and a dumpable memory would be readable by that user through /proc/<child>/mem. So the flag is
// put back only when no spawn of this process is inside that window: the last spawn in flight
// restores what the first one found.
#pragma once

namespace confine {

// Held around a spawn's clone, from before it until the child has exec'd or exited (the clone's
// vfork has returned). Only the parent's side; nothing here runs in the child.
class DumpableGuard {
 public:
  DumpableGuard();
  ~DumpableGuard();
  DumpableGuard(const DumpableGuard&) = delete;
  DumpableGuard& operator=(const DumpableGuard&) = delete;
};

// PR_GET_DUMPABLE of this process (0, 1 or 2), or -errno.
int Dumpable();

}  // namespace confine
