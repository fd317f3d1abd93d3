// Learning on the event loop whether a child started with startAsync (spawn.h) exec'd its
// program: a uv_poll on the error pipe's read end, the same machinery as the exit watch. The
// main thread is free meanwhile (on the init path, the program's exec came 2-3 ms after the
// init's in a measurement from C under load).
#pragma once

#include <uv.h>

#include <functional>

namespace confine {

struct StartOutcome {
  bool failed = false;  // a ChildError record arrived: the child exits 127 (the caller reaps it)
  const char* stage = nullptr;
  const char* syscall = nullptr;
  int err = 0;
  // Both descriptors of the pipe were closed by someone else (user code closing numbers it does
  // not own): the outcome is unknown, and the caller kills the child rather than guess.
  bool unobservable = false;
};

using StartCallback = std::function<void(const StartOutcome&)>;

// Polls `errFd` (taken over: closed once the outcome is known, or on cancel) until it gives EOF
// (the program exec'd; or every holder of the write end died before its exec, which says no
// more) or a whole record; then onStart runs once, on the loop thread. Returns 0 or an errno
// value (*syscall names the failed call); on failure errFd is closed.
struct StartWatch;
int WatchStartOnLoop(uv_loop_t* loop, int errFd, StartCallback onStart, const char** syscall,
                     StartWatch** watch);

// Stops a watch whose onStart has not run, without calling it (environment teardown).
void CancelStartWatch(StartWatch* watch);

// Whether the watch keeps its loop alive (uv_ref / uv_unref). A new watch is referenced.
void RefStartWatch(StartWatch* watch, bool ref);

}  // namespace confine
