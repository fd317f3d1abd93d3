// Isolation (Linux): what the child does between the cgroup join and the rlimits to see only
// what it was given, and the plan the parent prepares for it.
//
// The parent (isolation_plan.cc) turns the request into an IsolationPlan of plain memory: clone
// flags, the uid/gid map lines, every mount as a ready operation with its paths and flags, the
// hostname, the loopback request, the init's argv. The child (isolation_child.cc) only reads it
// and makes system calls, with the rules of native/posix/child.cc.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../posix/child.h"

namespace confine {

// One step of building the child's filesystem view, in the order the parent listed them.
enum class MountOpKind : int32_t {
  kMkdir = 1,   // mkdir target, 0755 (EEXIST is fine: the directory is already there)
  kCreateFile,  // an empty file to bind a file onto
  kBindSource,  // bind the source the child opened (sources[sourceIndex]) onto target
  kSetattr,     // mount_setattr(target, AT_RECURSIVE, attrSet); before 5.12: remount, `flags`
  kTmpfs,       // a fresh tmpfs on target, options in `data`
  kProc,        // a fresh procfs on target (of the child's pid namespace)
  kProcEntryReadOnly,  // a procfs entry bound on itself, then kSetattr; absent (ENOENT): none
  kRemount,            // MS_REMOUNT|MS_BIND|flags on the mount at target alone
  kSymlink,            // symlink at target whose text is `data`
};

struct MountOp {
  MountOpKind kind;
  const char* target = nullptr;
  int sourceIndex = -1;        // kBindSource
  unsigned long flags = 0;     // mount(2) flags; kSetattr, kProcEntryReadOnly: the remount's
  uint64_t attrSet = 0;        // kSetattr, kProcEntryReadOnly: MOUNT_ATTR_* to set (never clears)
  const char* data = nullptr;  // kTmpfs options, kSymlink text
};

struct IsolationPlan {
  // CLONE_NEW* flags for the clone itself (StartChild ORs them in).
  uint64_t cloneFlags = 0;

  // 5a. User namespace: the child writes "deny" to setgroups, then its own one-line maps.
  bool mapIds = false;
  const char* uidMap = nullptr;
  size_t uidMapLen = 0;
  const char* gidMap = nullptr;
  size_t gidMapLen = 0;

  // 5b. Spare network and IPC namespaces made ahead of time, joined with setns (-1: none).
  int netnsFd = -1;
  int ipcnsFd = -1;

  // 5c. Mounts: a private mount namespace (checked: its inode differs from the supervisor's),
  //     propagation private, the sources opened, then the operations. With newRoot, as
  //     bubblewrap does: a scratch tmpfs on scratchDir becomes "/" by a first pivot_root, the
  //     host's root moving to /oldroot (so no host mount contains the scratch, and a recursive
  //     bind of a source never takes it along); the operations build the view at /newroot
  //     (sources through /oldroot/proc/self/fd/N); /oldroot is detached; a second pivot_root
  //     makes /newroot "/" and the scratch goes.
  bool mounts = false;
  uint64_t parentMntNs = 0;
  const char* const* sources = nullptr;  // bind sources, real paths in the supervisor's view
  size_t sourceCount = 0;
  int* sourceFds = nullptr;  // sourceCount ints the child fills (shared memory)
  bool newRoot = false;
  const char* scratchDir = nullptr;      // any real directory of the host: /tmp
  const char* scratchOldRoot = nullptr;  // scratchDir + "/oldroot"
  const char* scratchNewRoot = nullptr;  // scratchDir + "/newroot"
  const MountOp* ops = nullptr;
  size_t opCount = 0;

  // 5d. Hostname (a new UTS namespace).
  const char* hostname = nullptr;
  size_t hostnameLen = 0;

  // 5e. Loopback up: a struct ifreq for "lo" prepared by the parent (SIOCSIFFLAGS).
  const void* loopbackIfreq = nullptr;

  // Processes 'private': the child execs the init (native/linux/init) from this fd instead of
  // the program; the init starts the program and writes its wait status to statusFd.
  int initFd = -1;
  int statusFd = -1;
  char** initArgv = nullptr;  // [name, errFdText, statusFdText, file, argv...]
  char* errFdText = nullptr;  // 16-byte buffers the child fills with its fd numbers
  char* statusFdText = nullptr;
};

struct StepFailure {
  Stage stage;
  Syscall syscall;
  long err;  // -errno
};

// Steps 5a-5e of RunChild (see child.cc). Returns true, or false with *fail set.
bool ApplyIsolation(const IsolationPlan& plan, StepFailure* fail);

}  // namespace confine
