// File descriptors the JS side hands to spawn(): pipes and /dev/null, all close-on-exec in the
// supervisor (the child gets its copies through dup3, which clears the flag on the copy only).
#pragma once

#include <sys/types.h>

#include <string>

namespace confine {

struct FdResult {
  int err = 0;                    // 0 on success
  const char* syscall = nullptr;  // the call that failed
};

// fds[0] is the read end, fds[1] the write end; both O_CLOEXEC. nonBlockingWrite: the write end
// O_NONBLOCK (a write to a full pipe fails with EAGAIN instead of waiting for its reader).
FdResult MakePipe(int fds[2], bool nonBlockingWrite = false);
// open("/dev/null", flags | O_CLOEXEC); *fd receives the descriptor.
FdResult OpenDevNull(int flags, int* fd);
// close(fd). EINTR counts as closed (Linux and macOS release the descriptor either way).
FdResult CloseFd(int fd);

// The whole text of a small kernel file (cgroup, proc) read from offset 0 with pread: such a
// file makes its text anew at offset 0 on every read, so a descriptor held open serves again and
// again (one system call instead of open, read and close). *out receives it; err is the errno.
// shortReadEnds: a read that returns less than asked is the end (no second read to see EOF):
// true of a file whose whole text one show() makes, as a cgroup's single-value and keyed files
// (cgroup.events, cgroup.stat, cpu.stat, memory.events): the kernel's seq_file hands out all of
// that text before it returns less. Not of a file listed record by record (cgroup.procs).
// A directory reads as its link count, LinkCountText(): on cgroupfs 2 + its sub-cgroups.
FdResult ReadFromStart(int fd, std::string* out, bool shortReadEnds = false);
// "nlink <n>\n": what a directory reads as. On cgroupfs (kernfs) a directory's link count is
// 2 + its subdirectories, refreshed on every stat (kernfs_refresh_inode); a cgroup's only
// subdirectories are its child cgroups, so one fstat tells whether it has any (what reading
// cgroup.stat's nr_descendants told, at a pread more).
std::string LinkCountText(unsigned long long links);
// open(path, O_RDONLY | O_CLOEXEC), ReadFromStart, close.
FdResult ReadSmallFile(const char* path, std::string* out, bool shortReadEnds = false);

// "dev:ino" of what fd refers to (fstat): *out receives it; err is the errno (EBADF: not open).
FdResult FdIdentity(int fd, std::string* out);

// What an fd held across turns of the event loop referred to when it was opened: user code that
// closes that number by mistake (a double close) can have it reused by a file of its own, which
// we must then neither read, poll nor close. One fstat; `known` is false if it failed.
struct FdId {
  bool known = false;
  dev_t dev = 0;
  ino_t ino = 0;
  bool dir = false;  // a directory (then `links` is its link count, as that fstat saw it)
  unsigned long long links = 0;
};
FdId IdOf(int fd);
// Whether fd still refers to the file `id` was taken from (true for an unknown id: unchecked).
bool StillOurs(int fd, const FdId& id);
// close(fd) only while it is still ours; an fd that changed is not ours to close any more.
void CloseIfOurs(int fd, const FdId& id);
// "dev:ino", as FdIdentity() gives it.
std::string IdText(const FdId& id);

// pipe2(O_CLOEXEC) where it exists; elsewhere pipe + FD_CLOEXEC (a fork on another thread in
// between could inherit the ends until its exec: the same window libuv accepts on macOS).
int PipeCloexec(int fds[2]);

}  // namespace confine
