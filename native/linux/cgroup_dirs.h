// A tree's task cgroup directories, removed by the addon itself where the JavaScript that would
// release them never runs again: a worker thread that ended while the tree ran (docs/lifecycle.md,
// "When a worker thread ends"). lib/ names the directories; only rmdir is used, which removes an
// empty cgroup and nothing else.
#pragma once

#include <string>
#include <vector>

namespace confine {

// rmdir of each of *dirs; those removed, or gone already, are dropped from it. EBUSY (the cgroup
// still has members: descendants of the leader still running, or the kernel not yet done with
// the last task that exited) keeps a directory for a later call; any other error drops it (not
// ours to remove). True when none is left.
bool RemoveEmptyCgroupDirs(std::vector<std::string>* dirs);

}  // namespace confine
