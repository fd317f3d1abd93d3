// Landlock: file access by path hierarchy, TCP bind/connect, and scopes (signals, abstract unix
// sockets), for a child and everything it starts. Built in the parent once per policy; the child
// only restricts itself (see landlock.cc for where rules are added and why).
#pragma once

#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "../posix/child.h"

namespace confine {
namespace landlock {

// The ABI version this kernel offers (LANDLOCK_CREATE_RULESET_VERSION); 0 where Landlock is not
// built or not enabled at boot. *err gets the errno of the probe then (EOPNOTSUPP, ENOSYS).
int Abi(int* err = nullptr);

enum class Access : uint8_t { kRead, kWrite };

// A rule of the policy. dev and ino are the identity the caller checked (stat): the cache key
// holds them, so a directory deleted and made again under the same path is a new policy, and
// the parent refuses a path that names another file by now (ESTALE).
struct Rule {
  std::string path;
  Access access;
  uint64_t dev;
  uint64_t ino;
};

// A rule that belongs to one spawn only: a directory made for one tree (a private tmp), or, for
// the child, a path it made itself (a mount in its own namespace).
struct PathRule {
  std::string path;
  Access access;
};

struct Policy {
  std::vector<Rule> rules;
  bool denyTcp = false;            // ABI >= 4: TCP bind and connect denied (no port allowed)
  bool scopeSignals = false;       // ABI >= 6: no signal to a process outside the domain
  bool scopeAbstractUnix = false;  // ABI >= 6: no connect to an abstract socket outside it
};

struct Failure {
  const char* syscall = nullptr;
  int err = 0;
};

// The child's plan: a ruleset fd to restrict itself with, and paths it adds first.
struct ChildRule {
  const char* path;
  uint64_t dirAccess;   // the rights when the path is a directory
  uint64_t fileAccess;  // ... and when it is not (Landlock refuses directory rights on a file)
};
struct ChildPlan {
  int rulesetFd = -1;
  const ChildRule* rules = nullptr;
  size_t ruleCount = 0;
};

// One policy's build, shared by every spawn of it.
class Ruleset;

// What a spawn hands the child. The fd is open while this lives; the child plan points into it.
struct Prepared {
  std::shared_ptr<const Ruleset> policy;  // keeps the cached ruleset (and fds) alive
  int ownFd = -1;                         // a ruleset made for this spawn, closed by the destructor
  std::vector<std::string> childPaths;
  std::vector<ChildRule> childRules;
  ChildPlan child;

  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  ~Prepared();
};

// Builds (or finds) the policy's ruleset, adds this spawn's rules where it has any, and fills
// *out so that the ruleset fd is >= minFd (clear of the stdio targets the child dup3s onto).
bool Prepare(const Policy& policy, const std::vector<PathRule>& treeRules,
             const std::vector<PathRule>& childRules, int minFd, Prepared* out, Failure* why);

// Child side, raw system calls only: adds the child's own rules, then landlock_restrict_self.
// Returns 0, or -errno with *failed naming the call.
long Apply(const ChildPlan& plan, Syscall* failed);

}  // namespace landlock
}  // namespace confine
