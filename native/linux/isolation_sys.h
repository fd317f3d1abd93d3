// The Linux-only system calls of the child's isolation steps, one small function each, returning
// the result or -errno. The rules of native/posix/child_sys.h hold here too: syscall(2) only
// (no libc wrapper state), everything the calls read was prepared by the parent. Numbers of the
// calls newer than the build machine's headers are defined here, so building does not depend on
// how new the installed kernel headers are (x86-64 and aarch64 share them).
#pragma once

#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../posix/child_sys.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_statx
#if defined(__x86_64__)
#define SYS_statx 332
#elif defined(__aarch64__)
#define SYS_statx 291
#endif
#endif

namespace confine {
namespace sys {

// struct open_how (openat2) and struct mount_attr (mount_setattr), as the kernel defines them.
struct OpenHow {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
constexpr uint64_t kResolveNoSymlinks = 0x04;
constexpr uint64_t kResolveNoMagiclinks = 0x02;

struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrRdonly = 0x00000001;
constexpr uint64_t kMountAttrNosuid = 0x00000002;
constexpr uint64_t kMountAttrNodev = 0x00000004;
constexpr uint64_t kMountAttrNoexec = 0x00000008;
constexpr unsigned kAtRecursive = 0x8000;

inline long Mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                  const void* data) {
  return Ret(syscall(SYS_mount, source, target, fstype, flags, data));
}
inline long MountSetattr(const char* path, unsigned flags, const MountAttr* attr) {
  return Ret(syscall(SYS_mount_setattr, AT_FDCWD, path, flags, attr, sizeof *attr));
}
inline long Umount2(const char* target, int flags) {
  return Ret(syscall(SYS_umount2, target, flags));
}
inline long PivotRoot(const char* newRoot, const char* putOld) {
  return Ret(syscall(SYS_pivot_root, newRoot, putOld));
}
inline long Mkdir(const char* path, unsigned mode) {
  return Ret(syscall(SYS_mkdirat, AT_FDCWD, path, mode));
}
inline long Symlink(const char* linkTo, const char* path) {
  return Ret(syscall(SYS_symlinkat, linkTo, AT_FDCWD, path));
}
// An empty file to bind a file onto; O_NOFOLLOW so a symlink planted there is not followed.
inline long CreateFile(const char* path) {
  return Ret(
      syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
}
// An O_PATH handle on a bind source, resolved without following any symlink (the parent gave
// the real path); ENOSYS where the kernel has no openat2 (before 5.6).
inline long OpenPathNoSymlinks(const char* path) {
  OpenHow how = {O_PATH | O_CLOEXEC, 0, kResolveNoSymlinks | kResolveNoMagiclinks};
  return Ret(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how));
}
inline long OpenPath(const char* path) {
  return Ret(syscall(SYS_openat, AT_FDCWD, path, O_PATH | O_CLOEXEC));
}
inline long OpenReadWrite(const char* path) {
  return Ret(syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC));
}
inline long Sethostname(const char* name, size_t len) {
  return Ret(syscall(SYS_sethostname, name, len));
}
inline long Setns(int fd, int nstype) { return Ret(syscall(SYS_setns, fd, nstype)); }
inline long Socket(int domain, int type, int protocol) {
  return Ret(syscall(SYS_socket, domain, type, protocol));
}
inline long Ioctl(int fd, unsigned long request, void* arg) {
  return Ret(syscall(SYS_ioctl, fd, request, arg));
}
// The inode number of a path (a namespace file): statx with only STATX_INO asked.
inline long InodeOf(const char* path, uint64_t* ino) {
  // struct statx is 256 bytes, stx_ino at offset 32, the same on every architecture.
  alignas(8) unsigned char buf[256];
  long r = Ret(syscall(SYS_statx, AT_FDCWD, path, 0, 0x100 /* STATX_INO */, buf));
  if (r == 0) *ino = *reinterpret_cast<const uint64_t*>(buf + 32);
  return r;
}
// Whether a path exists, the last component not followed: statx asking for nothing. 0 or -errno.
inline long LookUp(const char* path) {
  alignas(8) unsigned char buf[256];
  return Ret(syscall(SYS_statx, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, buf));
}
inline long SetCloexec(int fd, bool on) {
  return Ret(syscall(SYS_fcntl, fd, F_SETFD, on ? FD_CLOEXEC : 0));
}
inline long Execveat(int fd, char* const* argv, char* const* envp) {
  return Ret(syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH));
}
// Whether the parent still holds the read end of the error pipe: a pipe's write end polls
// POLLERR once no reader is left. Used where getppid() cannot tell (a new pid namespace, whose
// processes see their parent as pid 0).
inline long PipeHasReader(int writeFd) {
  struct {
    int fd;
    short events, revents;
  } p = {writeFd, 0x004 /* POLLOUT */, 0};
  struct {
    long sec, nsec;
  } zero = {0, 0};
  long r = Ret(syscall(SYS_ppoll, &p, 1, &zero, nullptr, 0));
  if (r < 0) return r;
  return (p.revents & 0x008 /* POLLERR */) ? 0 : 1;
}

}  // namespace sys
}  // namespace confine
