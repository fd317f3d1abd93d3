// A tree's task cgroup directories, removed by the addon itself where the JavaScript that would
// release them never runs again: a worker thread that ended while the tree ran (docs/lifecycle.md,
// "When a worker thread ends"). lib/ names the directories. The addon removes one only with
// rmdir (which the kernel refuses for a cgroup with members or sub-cgroups), only while it is
// still the directory it was at the hand-over (same device and inode: not one that someone
// removed and another made anew at that path), and only when its name says it is confine's.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace confine {

class CgroupDirs {
 public:
  // Takes the identity of each of dirs now, while the tree's leader still holds them (no
  // release can have run: its JS is gone). One that cannot be stat'ed (removed already), or
  // whose name does not start with "confine", is not taken.
  explicit CgroupDirs(const std::vector<std::string>& dirs);

  // One round: rmdir of each directory left. Removed, gone, or no longer the same directory:
  // dropped. EBUSY with members (descendants of the leader still running: a v2 cgroup that is
  // populated, a v1 one with pids in cgroup.procs): kept for a later round. EBUSY without
  // members (the kernel not yet done with the last task that exited; a sub-cgroup someone made
  // inside, which never clears): kept for kMaxMemberlessRounds rounds in a row, then dropped
  // (left to cleanupOrphans(), as the live release gives up after as many). Any other error:
  // dropped (not ours to remove). True when none is left.
  bool RemoveEmpty();

  // Rounds without members before a directory is given up (lib/backends/native.ts's
  // MAX_RELEASE_FAILURES).
  static constexpr int kMaxMemberlessRounds = 60;

 private:
  struct Dir {
    std::string path;
    dev_t dev;
    ino_t ino;
    int memberlessRounds;
  };
  std::vector<Dir> dirs_;
};

}  // namespace confine
