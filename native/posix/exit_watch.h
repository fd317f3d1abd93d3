// Waiting for a child's exit without ever touching anyone else's children: always wait4 on
// that one pid (libuv reaps its own pids the same way), never waitpid(-1), no SIGCHLD handler.
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include <functional>

#include "fd.h"

namespace confine {

struct ExitStatus {
  int err = 0;            // non-zero: the child could not be reaped (ECHILD: someone else did)
  bool signaled = false;  // killed by termSignal; otherwise exited with exitCode
  int exitCode = 0;
  int termSignal = 0;
  int64_t userMicros = 0;
  int64_t systemMicros = 0;
  int64_t maxRssBytes = 0;
  // A loop watch of a pidfd: whether the caller's pidfd (its number as given to the watch) was
  // still that pidfd just before the reap (1) or is another file now (0), for the caller to
  // close it or not; -1 where not checked (no pidfd, macOS, a thread watch).
  int pidfdOurs = -1;
};

using ExitCallback = std::function<void(const ExitStatus&)>;

// wait4 on exactly this pid, into *st (st->err set when it cannot be reaped). With WNOHANG in
// options: false, and nothing done, while the child has not exited yet.
bool Reap(pid_t pid, int options, ExitStatus* st);

// Watches on the event loop with a uv_poll: on a copy of the pidfd (Linux), on a kqueue with an
// EVFILT_PROC/NOTE_EXIT filter (macOS). When it becomes readable the child is reaped with
// wait4(pid, WNOHANG) and onExit runs once, on the loop thread. The poll handle is active (and
// so keeps the loop alive) until then. The caller's pidfd is not taken over: it may be closed
// at any time. Returns 0 or an errno value (*syscall names the failed call); ENOTSUP means
// there is nothing to poll (Linux without a pidfd): use WatchExitOnThread.
struct LoopWatch;
int WatchExitOnLoop(uv_loop_t* loop, pid_t pid, int pidfd, ExitCallback onExit,
                    const char** syscall, LoopWatch** watch);

// Whether fd is still the pidfd the watch was given (pidfd::StillOurs against the watch's own
// copy: exact on every kernel), for the caller's checks before it signals through it.
bool LoopWatchHolds(const LoopWatch* watch, int fd);

// Stops a loop watch whose onExit has not run yet, without calling it (environment teardown:
// a worker thread's loop must have no handles left). The child is not reaped.
void CancelLoopWatch(LoopWatch* watch);

// The pid a loop watch waits for.
pid_t LoopWatchPid(const LoopWatch* watch);

// Whether the watch keeps its loop alive (uv_ref / uv_unref of its poll handle), as
// ChildProcess.ref()/unref() do for libuv's process handle. A new watch is referenced.
void RefLoopWatch(LoopWatch* watch, bool ref);

// The fallback: a small thread blocks in wait4(pid, 0) and calls onExit on that thread (the
// caller forwards it to the loop, e.g. with a thread-safe function).
int WatchExitOnThread(pid_t pid, ExitCallback onExit, const char** syscall);

}  // namespace confine
