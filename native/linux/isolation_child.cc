// The child's isolation steps (step 5 of native/posix/child.cc), in order. The rules of child.cc
// hold: no allocation, no locks, no libc state; only the plan, the stack and the system calls of
// isolation_sys.h. Every failure is a spawn error with its own stage: a mount or namespace step
// that fails never leaves a child running with less isolation than it was given.
#include <errno.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "isolation.h"
#include "isolation_sys.h"

#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif

namespace confine {
namespace {

bool Failed(StepFailure* fail, Stage stage, Syscall syscall, long r) {
  *fail = {stage, syscall, r};
  return false;
}

// Writes all of text into a /proc/self file opened for writing (the kernel takes a map line in
// one write: a short write is an error).
long WriteProcFile(const char* path, const char* text, size_t len) {
  long fd = sys::OpenWriteOnly(path);
  if (fd < 0) return fd;
  long r = sys::Write(static_cast<int>(fd), text, len);
  sys::Close(static_cast<int>(fd));
  if (r >= 0 && static_cast<size_t>(r) != len) return -EIO;
  return r < 0 ? r : 0;
}

// "<prefix>/proc/self/fd/<n>" into buf (at least 48 bytes): prefix "/oldroot" between the two
// pivots, where the host's /proc is.
const char* FdPath(char* buf, bool oldRoot, int fd) {
  const char* kPrefix = oldRoot ? "/oldroot/proc/self/fd/" : "/proc/self/fd/";
  size_t i = 0;
  for (; kPrefix[i]; i++) buf[i] = kPrefix[i];
  AppendDecimal(buf + i, fd);
  return buf;
}

// Sets attrSet on the mount at target and every mount below it. Recursive, so every mount below
// a read-only bind is read-only too; it only sets flags, so flags the kernel locked on the source
// (nosuid, noexec, atime) are kept as they are. Returns 0 or -errno, and the syscall that failed.
long SetAttr(const char* target, uint64_t attrSet, unsigned long remountFlags, Syscall* which) {
  *which = Syscall::kMountSetattr;
  sys::MountAttr attr = {attrSet, 0, 0, 0};
  long r = sys::MountSetattr(target, sys::kAtRecursive, &attr);
  if (r != -ENOSYS) return r;
  // Before Linux 5.12: remount the top mount alone (the parent's flags keep the source's locked
  // ones); capabilities() says what that leaves out.
  *which = Syscall::kMount;
  return sys::Mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | remountFlags, nullptr);
}

// 5c: one operation of the view. Returns 0 or -errno, and the syscall that failed.
long RunOp(const IsolationPlan& p, const MountOp& op, Syscall* which) {
  long r = 0;
  char path[48];
  switch (op.kind) {
    case MountOpKind::kMkdir:
      *which = Syscall::kMkdir;
      r = sys::Mkdir(op.target, 0755);
      return r == -EEXIST ? 0 : r;
    case MountOpKind::kCreateFile:
      *which = Syscall::kOpen;
      r = sys::CreateFile(op.target);
      if (r >= 0) sys::Close(static_cast<int>(r));
      return r < 0 ? r : 0;
    case MountOpKind::kBindSource:
      *which = Syscall::kMount;
      return sys::Mount(FdPath(path, p.newRoot, p.sourceFds[op.sourceIndex]), op.target, nullptr,
                        MS_BIND | op.flags, nullptr);
    case MountOpKind::kSetattr: return SetAttr(op.target, op.attrSet, op.flags, which);
    case MountOpKind::kTmpfs:
      *which = Syscall::kMount;
      return sys::Mount("tmpfs", op.target, "tmpfs", op.flags, op.data);
    case MountOpKind::kProc:
      *which = Syscall::kMount;
      return sys::Mount("proc", op.target, "proc", op.flags, nullptr);
    case MountOpKind::kProcEntryReadOnly:
      // The entry bound over itself, so that it can be made read-only alone. Whether the entry
      // exists is this fresh procfs's answer, asked here rather than of the supervisor's /proc
      // (which may be mounted subset=pid and hide it). ENOENT is the one answer for an entry the
      // kernel does not have: procfs's lookup of a name it does not know returns -ENOENT, and
      // the rest of the path is the procfs mounted just before, without options (it shows all
      // this kernel has). Every other failure, here or in making it read-only, fails the spawn.
      *which = Syscall::kMount;
      r = sys::Mount(op.target, op.target, nullptr, MS_BIND | MS_REC, nullptr);
      if (r == -ENOENT) {
        // Confirmed by a lookup that mounts nothing: a filter or LSM that answered the bind
        // alone with ENOENT must not pass for an absent entry (it would stay writable).
        long found = sys::LookUp(op.target);
        if (found == -ENOENT) return 0;
        if (found < 0) *which = Syscall::kStatx;
        return found < 0 ? found : r;
      }
      if (r < 0) return r;
      return SetAttr(op.target, op.attrSet, op.flags, which);
    case MountOpKind::kRemount:
      *which = Syscall::kMount;
      return sys::Mount(nullptr, op.target, nullptr, MS_REMOUNT | MS_BIND | op.flags, nullptr);
    case MountOpKind::kSymlink: *which = Syscall::kSymlink; return sys::Symlink(op.data, op.target);
  }
  return -EINVAL;
}

void CloseSources(const IsolationPlan& p, size_t opened) {
  for (size_t i = 0; i < opened; i++) sys::Close(p.sourceFds[i]);
}

bool BuildView(const IsolationPlan& p, StepFailure* fail) {
  long r;
  // Never mount in the supervisor's namespace: the clone must have made a new one.
  uint64_t ino = 0;
  if ((r = sys::InodeOf("/proc/self/ns/mnt", &ino)) < 0)
    return Failed(fail, Stage::kNamespaces, Syscall::kStatx, r);
  if (ino == p.parentMntNs) return Failed(fail, Stage::kNamespaces, Syscall::kStatx, -EINVAL);

  // Nothing mounted from here on propagates to the host, and nothing from the host to us.
  if ((r = sys::Mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) < 0)
    return Failed(fail, Stage::kMounts, Syscall::kMount, r);

  // The bind sources, opened before anything is mounted over them (the new root's tmpfs may
  // cover a source's parent: /tmp). No symlink is followed: the parent resolved them.
  for (size_t i = 0; i < p.sourceCount; i++) {
    Syscall opened_by = Syscall::kOpenat2;
    r = sys::OpenPathNoSymlinks(p.sources[i]);
    if (r == -ENOSYS) {  // before Linux 5.6: a plain openat, which follows symlinks
      opened_by = Syscall::kOpen;
      r = sys::OpenPath(p.sources[i]);
    }
    if (r < 0) {
      CloseSources(p, i);
      return Failed(fail, Stage::kMounts, opened_by, r);
    }
    p.sourceFds[i] = static_cast<int>(r);
  }

  if (p.newRoot) {
    // The scratch tmpfs becomes "/", the host's root goes to /oldroot.
    r = sys::Mount("tmpfs", p.scratchDir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    if (r == 0 && (r = sys::Mkdir(p.scratchOldRoot, 0700)) < 0) r = r == -EEXIST ? 0 : r;
    if (r == 0 && (r = sys::Mkdir(p.scratchNewRoot, 0755)) < 0) r = r == -EEXIST ? 0 : r;
    if (r < 0) {
      CloseSources(p, p.sourceCount);
      return Failed(fail, Stage::kMounts, Syscall::kMount, r);
    }
    if ((r = sys::PivotRoot(p.scratchDir, p.scratchOldRoot)) < 0 || (r = sys::Chdir("/")) < 0) {
      CloseSources(p, p.sourceCount);
      return Failed(fail, Stage::kPivotRoot, Syscall::kPivotRoot, r);
    }
  }
  for (size_t i = 0; i < p.opCount; i++) {
    Syscall which = Syscall::kMount;
    if ((r = RunOp(p, p.ops[i], &which)) < 0) {
      CloseSources(p, p.sourceCount);
      return Failed(fail, Stage::kMounts, which, r);
    }
  }
  CloseSources(p, p.sourceCount);
  if (!p.newRoot) return true;

  // /newroot becomes "/": pivot_root(".", ".") stacks the scratch on top of the new root, and
  // detaching the scratch leaves the new root alone (pivot_root(2)). The detach is lazy, so it
  // takes every mount below the scratch with it: /oldroot, the host's tree, goes in the same
  // umount (one umount_tree and one RCU grace period in the kernel instead of two; bubblewrap
  // detaches /oldroot on its own first). Nothing of the host's tree is reachable afterwards, not
  // even through "..".
  if ((r = sys::Chdir("/newroot")) < 0) return Failed(fail, Stage::kPivotRoot, Syscall::kChdir, r);
  if ((r = sys::PivotRoot(".", ".")) < 0)
    return Failed(fail, Stage::kPivotRoot, Syscall::kPivotRoot, r);
  if ((r = sys::Umount2(".", MNT_DETACH)) < 0)
    return Failed(fail, Stage::kPivotRoot, Syscall::kUmount2, r);
  if ((r = sys::Chdir("/")) < 0) return Failed(fail, Stage::kPivotRoot, Syscall::kChdir, r);
  // The view's root (its tmpfs, or a bind of the host's "/") read-only too: set, never cleared,
  // so flags the kernel locked on a bind stay as they are.
  sys::MountAttr attr = {sys::kMountAttrRdonly | sys::kMountAttrNosuid | sys::kMountAttrNodev, 0, 0,
                         0};
  r = sys::MountSetattr("/", 0, &attr);
  if (r == -ENOSYS)
    r = sys::Mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                   nullptr);
  if (r < 0) return Failed(fail, Stage::kMounts, Syscall::kMount, r);
  return true;
}

}  // namespace

bool ApplyIsolation(const IsolationPlan& p, StepFailure* fail) {
  long r;
  // 5a. A new user namespace: map the child's own uid and gid (the only mapping an unprivileged
  //     process may write). setgroups must be denied before an unprivileged gid_map.
  if (p.mapIds) {
    if ((r = WriteProcFile("/proc/self/setgroups", "deny", 4)) < 0)
      return Failed(fail, Stage::kUidMap, Syscall::kWrite, r);
    if ((r = WriteProcFile("/proc/self/gid_map", p.gidMap, p.gidMapLen)) < 0)
      return Failed(fail, Stage::kUidMap, Syscall::kWrite, r);
    if ((r = WriteProcFile("/proc/self/uid_map", p.uidMap, p.uidMapLen)) < 0)
      return Failed(fail, Stage::kUidMap, Syscall::kWrite, r);
  }

  // 5b. Network and IPC namespaces made ahead of time (empty, never used before).
  if (p.netnsFd >= 0 && (r = sys::Setns(p.netnsFd, CLONE_NEWNET)) < 0)
    return Failed(fail, Stage::kNamespaces, Syscall::kSetns, r);
  if (p.ipcnsFd >= 0 && (r = sys::Setns(p.ipcnsFd, CLONE_NEWIPC)) < 0)
    return Failed(fail, Stage::kNamespaces, Syscall::kSetns, r);

  // 5c. The filesystem view.
  if (p.mounts && !BuildView(p, fail)) return false;

  // 5d. Hostname, in the child's own UTS namespace.
  if (p.hostname != nullptr && (r = sys::Sethostname(p.hostname, p.hostnameLen)) < 0)
    return Failed(fail, Stage::kHostname, Syscall::kSethostname, r);

  // 5e. Loopback up in the child's own network namespace.
  if (p.loopbackIfreq != nullptr) {
    long s = sys::Socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return Failed(fail, Stage::kNetwork, Syscall::kSocket, s);
    r = sys::Ioctl(static_cast<int>(s), SIOCSIFFLAGS, const_cast<void*>(p.loopbackIfreq));
    sys::Close(static_cast<int>(s));
    if (r < 0) return Failed(fail, Stage::kNetwork, Syscall::kIoctl, r);
  }
  return true;
}

}  // namespace confine
