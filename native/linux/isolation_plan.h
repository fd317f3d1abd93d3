// The isolation part of a spawn request, and the parent's work of turning it into the plain
// memory the child reads (isolation.h). lib/ decides what the view holds (paths resolved,
// symlinks found, nesting checked); this file decides how to build it: which directories to
// make, which mounts and flags, in which order.
#pragma once

#include <stdint.h>

#include <deque>
#include <string>
#include <vector>

namespace confine {

struct IsolationPlan;

struct MountRequest {
  enum class Kind {
    kBind,   // source (a real path) at target; readOnly: read and execute, else read-write
    kTmpfs,  // a fresh tmpfs at target: data "mode=1777" or "mode=1777,size=<bytes>"
    kProc,   // a fresh procfs at target; with readOnlyKernelFiles, /proc/sys and friends read-only
    kDev,    // a minimal /dev at target: null zero full random urandom tty, shm, fd links
    kSymlink,  // a symlink at target whose text is linkTo (made after every mount)
  };
  Kind kind = Kind::kBind;
  std::string target;
  std::string source;
  std::string linkTo;
  std::string data;  // kTmpfs: empty for "mode=1777"
  bool readOnly = false;
  bool readOnlyKernelFiles = false;  // kProc: for a child that runs as uid 0 with capabilities
};

struct IsolationRequest {
  bool active = false;   // false: no isolation at all (the request had none)
  bool user = false;     // CLONE_NEWUSER: the child maps its own uid and gid
  bool mount = false;    // CLONE_NEWNS (implied by mounts)
  bool pid = false;      // CLONE_NEWPID, and the init as pid 1 (initFd, statusFd)
  bool net = false;      // CLONE_NEWNET (or the spare netnsFd)
  bool ipc = false;      // CLONE_NEWIPC
  bool uts = false;      // CLONE_NEWUTS (implied by hostname)
  bool newRoot = false;  // the mounts build a new root (pivot_root); else they go in place
  std::vector<MountRequest> mounts;
  bool hasHostname = false;
  std::string hostname;
  bool loopback = false;
  int netnsFd = -1;
  bool spares = false;  // net and ipc from the spare pool (namespace_pool.h) when one is ready
  int initFd = -1;
  int statusFd = -1;
};

// Owns every string and array the plan points into, until the spawn is over.
class IsolationBuilder {
 public:
  IsolationBuilder();
  ~IsolationBuilder();
  IsolationBuilder(const IsolationBuilder&) = delete;
  IsolationBuilder& operator=(const IsolationBuilder&) = delete;

  // Fills *plan from req for the program file/argv (the init's argv carries them). Returns 0,
  // or an errno with *what naming the problem (a bad path, a source that is gone, no place for
  // the new root); nothing has been started then.
  int Build(const IsolationRequest& req, const std::string& file,
            const std::vector<std::string>& argv, IsolationPlan* plan, const char** what);

 private:
  struct Impl;
  Impl* impl_;
};

namespace isolation {
// Whether mount_setattr(2) exists (Linux 5.12): without it a read-only bind is read-only at its
// top mount only. Measured once.
bool HaveMountSetattr();
}  // namespace isolation

}  // namespace confine
