// The process's one reaper of children that nothing else waits for any more: those of a worker
// thread whose environment has ended (its event loop, which watched them, is gone). One thread
// for all of them, however many (a thread per child cost a thread and its stack each).
#pragma once

#include <sys/types.h>

#include <functional>

namespace confine {

// What to do once the child is reaped: true when done; false to be called again about a second
// later (a cgroup directory that still has members), and so on until it returns true (it bounds
// its own rounds: CgroupDirs::RemoveEmpty gives up a directory that never empties).
using AfterReap = std::function<bool()>;

// Hands pid, a child of this process not reaped yet and not waited for by anyone else, to the
// reaper: a thread, started on first use, that waits on a pidfd of each (epoll), reaps the
// child with wait4(pid) once it has exited, then runs afterReap on that thread. Returns 0, or an
// errno value (*syscall names the failed call; ENOSYS: no pidfd_open, before Linux 5.3): the
// caller then waits some other way.
int HandToReaper(pid_t pid, AfterReap afterReap, const char** syscall);

// For a child reaped already (its worker ended while the exit was being seen, or a waiter
// thread reaped it: that thread ends, the retries go on here): afterReap runs on
// the reaper's thread about a second from now, and again each second until it returns true.
int RetryOnReaper(AfterReap afterReap, const char** syscall);

}  // namespace confine
