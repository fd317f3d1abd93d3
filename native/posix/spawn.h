// spawn(): prepare everything in the parent, start the child, learn from the error pipe
// whether it exec'd, reap it if it did not (or, startAsync, hand the pipe to the caller).
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "../linux/isolation_plan.h"  // plain structs; built only on Linux

namespace confine {

// Kernel guards of the child (Linux: native/linux/guards.h). Names are already checked by the
// caller (addon.cc) against the tables of native/linux/seccomp.cc and capabilities.cc.
struct GuardRequest {
  bool capabilities = false;      // apply the capability step (a uid-0 child)
  uint64_t keepCapabilities = 0;  // bit n = capability n
  bool seccomp = false;           // install a filter: the default table plus these
  std::vector<std::string> seccompDeny;
  bool seccompDenyIoUring = false;
  bool seccompUnixSocketsOnly = false;
  struct PathRule {
    std::string path;
    bool write = false;
    uint64_t dev = 0, ino = 0;  // rules only (cache key, identity check)
  };
  bool landlock = false;
  std::vector<PathRule> landlockRules;       // the policy's: built once, cached
  std::vector<PathRule> landlockTreeRules;   // this spawn's (a directory made for the tree)
  std::vector<PathRule> landlockChildRules;  // paths the child opens itself (its own mounts)
  bool landlockDenyTcp = false;
  bool landlockScopeSignals = false;
  bool landlockScopeAbstractUnix = false;

  bool Any() const { return capabilities || seccomp || landlock; }
};

struct SpawnRequest {
  std::string file;
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  bool hasCwd = false;
  std::string cwd;
  int64_t uid = -1;  // -1 keeps the supervisor's
  int64_t gid = -1;
  bool hasGroups = false;  // false keeps the supervisor's
  std::vector<uint32_t> groups;
  std::vector<std::pair<int, int64_t>> rlimits;  // RLIMIT_* and value, -1 = infinity
  std::vector<int> stdio;
  bool setsid = false;
  bool noNewPrivs = false;
  int pdeathsig = 0;
  bool resetOomScoreAdj = false;
  int cgroupFd = -1;
  std::vector<int> cgroupProcsFds;
  IsolationRequest isolation;  // Linux: namespaces, the new root, the init
  GuardRequest guards;
  // Return once the clone's vfork has returned, not once the program has exec'd: the error pipe's
  // read end goes back to the caller (SpawnResult::errFd) unless the outcome is known already.
  // Worth it where the two differ: the init path, whose own vfork holds the pipe until the
  // program's exec.
  bool startAsync = false;
  // Test switches: take the fallback paths on a kernel that has the fast ones.
  bool forceNoPidfd = false;
  bool forceNoCloseRange = false;
  bool forceNoClearSighand = false;
};

struct SpawnResult {
  bool ok = false;
  pid_t pid = -1;
  int pidfd = -1;
  // startAsync, outcome not known yet: the error pipe's read end (O_CLOEXEC, O_NONBLOCK), the
  // caller's now. EOF: the program exec'd; a ChildError record: it failed (the child exits 127
  // after writing it, and the caller reaps it). -1 when the outcome was known at return.
  int errFd = -1;
  // On failure:
  const char* stage = nullptr;  // child stage name, or "pipe" / "clone" / "cgroup"
  const char* syscall = nullptr;
  int err = 0;
  const char* detail = nullptr;  // a static text saying more, where there is one
};

// Maps the rlimit names of the JS API ("nofile", "cpu", ...) to RLIMIT_*; false if unknown.
bool RlimitFromName(const std::string& name, int* resource);

SpawnResult Spawn(const SpawnRequest& req);

}  // namespace confine
