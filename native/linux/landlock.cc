// Landlock rulesets: built in the parent, applied by the child.
//
// Where the rules are added, and why. A Landlock rule attaches to an inode and grants its rights
// to everything beneath it, across mount points, up to the root. So a rule built in the parent on
// a host directory also holds for a bind mount of that directory inside a child's new root; but a
// filesystem the child makes itself (a tmpfs for `tmp`, a /dev/shm, a /proc) has inodes the
// parent never saw, and a directory made for one tree is a path no other spawn may reach. The
// ways weighed, with what each adds to a vfork + execve of /bin/true (bench/guards_floor.c, on
// the project's 2-core machine, where a getppid() takes 1 us):
//  (a) one ruleset fd per policy in the parent, the child adding its own rules to it: a ruleset
//      is one kernel object, so a child's additions would reach every later spawn of the policy.
//      Rejected.
//  (b) the child makes the whole ruleset from paths (create, then open(O_PATH) + add + close per
//      rule, restrict): +0.06 ms with 4 rules, about +0.01 ms more per rule.
//  (c) what is done here:
//      - per policy, once, the parent builds a complete ruleset: the cache below, keyed by the
//        rules with the device and inode numbers the caller checked (a directory deleted and made
//        again is a new policy), and the network and scope settings;
//      - a spawn with no rules of its own hands the child that fd: the child only calls
//        landlock_restrict_self (+0.02 ms). The kernel copies the rules into the child's new
//        domain, so one fd serves every spawn of the policy;
//      - a spawn with rules of its own (a private tmp directory made for the tree on the
//        Landlock-only path; paths the child mounts itself) gets a fresh ruleset, made in the
//        parent from O_PATH fds the policy keeps (opened on its first such spawn) plus the
//        tree's paths; the child adds the paths it made, then restricts (+0.04 ms with 4 rules).
//        A fresh ruleset is unavoidable there: the kernel cannot copy one, and a tree's path must
//        not reach other trees. The kept fds make it a create and one add per rule, without a
//        path lookup. Their price: an O_PATH fd pins its mount (umount says EBUSY) while the
//        policy is cached; the cache holds 16 policies, least recently used out. The policy's
//        ruleset fd itself pins nothing (Landlock lets go of inodes at umount).
// The fd the child restricts with survives its close step (ChildPlan::keepFd) and is closed
// before execve.
#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "../posix/child_sys.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace confine {
namespace landlock {
namespace {

// The uapi constants, spelled here so that building does not depend on how new the installed
// kernel headers are (Debian 12's know ABI 2).
constexpr uint32_t kCreateRulesetVersion = 1;
constexpr int kRulePathBeneath = 1;

constexpr uint64_t kExecute = 1ULL << 0;
constexpr uint64_t kWriteFile = 1ULL << 1;
constexpr uint64_t kReadFile = 1ULL << 2;
constexpr uint64_t kReadDir = 1ULL << 3;
// 4..12: remove dir/file, make char/dir/reg/sock/fifo/block/sym (ABI 1)
constexpr uint64_t kRefer = 1ULL << 13;                   // ABI 2
constexpr uint64_t kTruncate = 1ULL << 14;                // ABI 3
constexpr uint64_t kIoctlDev = 1ULL << 15;                // ABI 5
constexpr uint64_t kNetBindTcp = 1ULL << 0;               // ABI 4
constexpr uint64_t kNetConnectTcp = 1ULL << 1;            // ABI 4
constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;  // ABI 6
constexpr uint64_t kScopeSignal = 1ULL << 1;              // ABI 6

// The rights Landlock accepts on a file that is not a directory.
constexpr uint64_t kFileRights = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

struct RulesetAttr {
  uint64_t handledAccessFs;
  uint64_t handledAccessNet;  // ABI 4
  uint64_t scoped;            // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowedAccess;
  int32_t parentFd;
};

// Every file right the ABI knows: all handled, so whatever no rule grants is denied.
uint64_t HandledFs(int abi) {
  uint64_t fs = (1ULL << 13) - 1;  // ABI 1
  if (abi >= 2) fs |= kRefer;
  if (abi >= 3) fs |= kTruncate;
  if (abi >= 5) fs |= kIoctlDev;
  return fs;
}

// read = read and execute (files, and listing directories); write = every right the ABI has.
uint64_t DirAccess(Access access, int abi) {
  return access == Access::kRead ? (kExecute | kReadFile | kReadDir) : HandledFs(abi);
}

long CreateRuleset(const RulesetAttr& attr) {
  return sys::Ret(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
}

long AddPathRule(int ruleset, int pathFd, uint64_t access) {
  PathBeneathAttr rule = {access, pathFd};
  return sys::Ret(syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &rule, 0));
}

// Opens a rule's path for the rule: an O_PATH fd and the rights that apply to what it names.
// With an identity (dev, ino) the file must still be the one the caller checked. Without one (a
// tree's directory) a directory is the common case: O_DIRECTORY says so without an fstat.
bool OpenRulePath(const std::string& path, Access access, int abi, const uint64_t* dev,
                  const uint64_t* ino, int* fd, uint64_t* rights, Failure* why) {
  if (!dev) {
    *fd = open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*fd >= 0) {
      *rights = DirAccess(access, abi);
      return true;
    }
    if (errno != ENOTDIR) {
      *why = {"open", errno};
      return false;
    }
  }
  *fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (*fd < 0) {
    *why = {"open", errno};
    return false;
  }
  struct stat st;
  if (fstat(*fd, &st) != 0) {
    *why = {"fstat", errno};
  } else if (dev && (static_cast<uint64_t>(st.st_dev) != *dev || st.st_ino != *ino)) {
    *why = {"fstat", ESTALE};  // the path names another file than the one the caller checked
  } else {
    *rights = DirAccess(access, abi) & (S_ISDIR(st.st_mode) ? ~0ULL : kFileRights);
    return true;
  }
  close(*fd);
  *fd = -1;
  return false;
}

}  // namespace

// One policy, built once. The fds are O_CLOEXEC, so other children of the supervisor never
// inherit them; ours close them in their close step.
class Ruleset {
 public:
  RulesetAttr attr = {};
  int abi = 0;
  int fd = -1;
  Policy policy;
  uint64_t lastUse = 0;  // for the cache's eviction, under its lock

  ~Ruleset() {
    if (fd >= 0) close(fd);
    for (int f : pathFds_) close(f);
  }

  // A new ruleset holding this policy's rules: from the O_PATH fds, opened on first need.
  long Copy(Failure* why) const {
    std::lock_guard<std::mutex> hold(lock_);
    if (pathFds_.empty()) {
      for (const Rule& r : policy.rules) {
        int pfd;
        uint64_t rights;
        if (!OpenRulePath(r.path, r.access, abi, &r.dev, &r.ino, &pfd, &rights, why)) {
          for (int f : pathFds_) close(f);
          pathFds_.clear();
          rights_.clear();
          return -1;
        }
        pathFds_.push_back(pfd);
        rights_.push_back(rights);
      }
    }
    long own = CreateRuleset(attr);
    if (own < 0) {
      *why = {"landlock_create_ruleset", static_cast<int>(-own)};
      return -1;
    }
    for (size_t i = 0; i < pathFds_.size(); i++) {
      long r = AddPathRule(static_cast<int>(own), pathFds_[i], rights_[i]);
      if (r < 0) {
        close(static_cast<int>(own));
        *why = {"landlock_add_rule", static_cast<int>(-r)};
        return -1;
      }
    }
    return own;
  }

 private:
  mutable std::mutex lock_;
  mutable std::vector<int> pathFds_;
  mutable std::vector<uint64_t> rights_;
};

namespace {

std::mutex cacheLock;
std::map<std::string, std::shared_ptr<Ruleset>> cache;
uint64_t useClock = 0;
constexpr size_t kCacheMax = 16;

std::string KeyOf(const Policy& p) {
  std::vector<const Rule*> rules;
  for (const Rule& r : p.rules) rules.push_back(&r);
  std::sort(rules.begin(), rules.end(), [](const Rule* a, const Rule* b) {
    return a->path != b->path ? a->path < b->path : a->access < b->access;
  });
  std::string key;
  key += p.denyTcp ? 't' : '-';
  key += p.scopeSignals ? 's' : '-';
  key += p.scopeAbstractUnix ? 'a' : '-';
  for (const Rule* r : rules) {
    key += r->path;
    key += '\0';
    key += r->access == Access::kRead ? 'r' : 'w';
    key += std::to_string(r->dev) + ':' + std::to_string(r->ino) + '\n';
  }
  return key;
}

std::shared_ptr<Ruleset> Build(const Policy& p, int abi, Failure* why) {
  auto rs = std::make_shared<Ruleset>();
  rs->abi = abi;
  rs->policy = p;
  rs->attr.handledAccessFs = HandledFs(abi);
  if (abi >= 4 && p.denyTcp) rs->attr.handledAccessNet = kNetBindTcp | kNetConnectTcp;
  if (abi >= 6) {
    if (p.scopeSignals) rs->attr.scoped |= kScopeSignal;
    if (p.scopeAbstractUnix) rs->attr.scoped |= kScopeAbstractUnixSocket;
  }
  long fd = CreateRuleset(rs->attr);
  if (fd < 0) {
    *why = {"landlock_create_ruleset", static_cast<int>(-fd)};
    return nullptr;
  }
  rs->fd = static_cast<int>(fd);
  // The rules: each path opened just long enough to add it.
  for (const Rule& r : p.rules) {
    int pfd;
    uint64_t rights;
    if (!OpenRulePath(r.path, r.access, abi, &r.dev, &r.ino, &pfd, &rights, why)) return nullptr;
    long added = AddPathRule(rs->fd, pfd, rights);
    close(pfd);
    if (added < 0) {
      *why = {"landlock_add_rule", static_cast<int>(-added)};
      return nullptr;
    }
  }
  return rs;
}

std::shared_ptr<const Ruleset> RulesetFor(const Policy& p, int abi, Failure* why) {
  std::string key = KeyOf(p);
  std::lock_guard<std::mutex> hold(cacheLock);
  auto it = cache.find(key);
  if (it != cache.end()) {
    it->second->lastUse = ++useClock;
    return it->second;
  }
  std::shared_ptr<Ruleset> built = Build(p, abi, why);
  if (!built) return nullptr;
  if (cache.size() >= kCacheMax) {
    auto oldest = std::min_element(cache.begin(), cache.end(), [](const auto& a, const auto& b) {
      return a.second->lastUse < b.second->lastUse;
    });
    cache.erase(oldest);  // a spawn still using it holds its own reference
  }
  built->lastUse = ++useClock;
  cache.emplace(key, built);
  return built;
}

}  // namespace

int Abi(int* err) {
  static int probedErr = 0;
  static const int abi = [] {
    long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
    if (v < 0) probedErr = errno;
    return v < 0 ? 0 : static_cast<int>(v);
  }();
  if (err) *err = probedErr;
  return abi;
}

Prepared::~Prepared() {
  if (ownFd >= 0) close(ownFd);
}

bool Prepare(const Policy& policy, const std::vector<PathRule>& treeRules,
             const std::vector<PathRule>& childRules, int minFd, Prepared* out, Failure* why) {
  int probeErr;
  int abi = Abi(&probeErr);
  if (abi == 0) {
    *why = {"landlock_create_ruleset", probeErr};
    return false;
  }
  out->policy = RulesetFor(policy, abi, why);
  if (!out->policy) return false;

  int fd = out->policy->fd;
  if (!treeRules.empty() || !childRules.empty()) {
    long own = out->policy->Copy(why);
    if (own < 0) return false;
    out->ownFd = fd = static_cast<int>(own);
    for (const PathRule& r : treeRules) {
      int pfd;
      uint64_t rights;
      if (!OpenRulePath(r.path, r.access, abi, nullptr, nullptr, &pfd, &rights, why)) return false;
      long added = AddPathRule(fd, pfd, rights);
      close(pfd);
      if (added < 0) {
        *why = {"landlock_add_rule", static_cast<int>(-added)};
        return false;
      }
    }
  }
  // The child dup3s its stdio onto 0..minFd-1: the ruleset must sit above them.
  if (fd < minFd) {
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, minFd);
    if (moved < 0) {
      *why = {"fcntl", errno};
      return false;
    }
    if (out->ownFd >= 0) close(out->ownFd);
    out->ownFd = fd = moved;
  }

  out->childPaths.reserve(childRules.size());
  for (const PathRule& r : childRules) {
    out->childPaths.push_back(r.path);
    uint64_t dir = DirAccess(r.access, abi);
    out->childRules.push_back({nullptr, dir, dir & kFileRights});
  }
  for (size_t i = 0; i < childRules.size(); i++)
    out->childRules[i].path = out->childPaths[i].c_str();
  out->child.rulesetFd = fd;
  out->child.rules = out->childRules.data();
  out->child.ruleCount = out->childRules.size();
  return true;
}

long Apply(const ChildPlan& p, Syscall* failed) {
  long r;
  for (size_t i = 0; i < p.ruleCount; i++) {
    *failed = Syscall::kOpen;
    long fd = sys::Ret(syscall(SYS_openat, AT_FDCWD, p.rules[i].path, O_PATH | O_CLOEXEC));
    if (fd < 0) return fd;
    struct statx stx;
    *failed = Syscall::kStatx;
    r = sys::Ret(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx));
    if (r == 0) {
      *failed = Syscall::kLandlockAddRule;
      uint64_t rights = S_ISDIR(stx.stx_mode) ? p.rules[i].dirAccess : p.rules[i].fileAccess;
      r = AddPathRule(p.rulesetFd, static_cast<int>(fd), rights);
    }
    sys::Close(static_cast<int>(fd));
    if (r < 0) return r;
  }
  *failed = Syscall::kLandlockRestrictSelf;
  r = sys::Ret(syscall(SYS_landlock_restrict_self, p.rulesetFd, 0));
  if (r < 0) return r;
  sys::Close(p.rulesetFd);
  return 0;
}

}  // namespace landlock
}  // namespace confine
