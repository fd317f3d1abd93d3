#include "start_watch.h"

#include <errno.h>
#include <unistd.h>

#include "child.h"

namespace confine {

struct StartWatch {
  uv_poll_t poll;
  int fd;  // the error pipe's read end, O_NONBLOCK
  ChildError rec;
  size_t got = 0;
  StartCallback onStart;
};

namespace {

void OnClosed(uv_handle_t* handle) {
  auto* w = static_cast<StartWatch*>(handle->data);
  if (w->fd >= 0) close(w->fd);
  delete w;
}

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* w = static_cast<StartWatch*>(handle->data);
  StartOutcome out;
  if (status < 0) {
    // The poll itself failed (not seen in practice): say so rather than wait forever.
    out.failed = true;
    out.stage = "spawn";
    out.syscall = "uv_poll";
    out.err = -status;
  } else {
    ssize_t n;
    do {
      n = read(w->fd, reinterpret_cast<char*>(&w->rec) + w->got, sizeof w->rec - w->got);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;  // level-triggered: called again when there is more
    if (n > 0) {
      w->got += static_cast<size_t>(n);
      if (w->got < sizeof w->rec) return;  // a record is written whole; the rest comes at once
      out.failed = true;
      out.stage = StageName(static_cast<Stage>(w->rec.stage));
      out.syscall = SyscallName(static_cast<Syscall>(w->rec.syscall));
      out.err = w->rec.err;
    }
    // n == 0 (EOF): exec'd, as spawn()'s own read takes it; a read error says nothing more.
  }
  // The pipe is closed before the callback runs (a stopped poll no longer watches its fd): the
  // caller sees no fd of the start left once it knows the outcome.
  uv_poll_stop(handle);
  close(w->fd);
  w->fd = -1;
  StartCallback onStart = std::move(w->onStart);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
  onStart(out);
}

}  // namespace

int WatchStartOnLoop(uv_loop_t* loop, int errFd, StartCallback onStart, const char** syscall,
                     StartWatch** watch) {
  auto* w = new StartWatch;
  w->fd = errFd;
  w->onStart = std::move(onStart);
  int r = uv_poll_init(loop, &w->poll, errFd);
  if (r != 0) {
    close(errFd);
    delete w;
    *syscall = "uv_poll_init";
    return -r;
  }
  w->poll.data = w;
  r = uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
    *syscall = "uv_poll_start";
    return -r;
  }
  *watch = w;
  return 0;
}

void CancelStartWatch(StartWatch* w) {
  // As CancelLoopWatch: the callback goes now, the handle on a later loop turn.
  StartCallback().swap(w->onStart);
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&w->poll))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
}

void RefStartWatch(StartWatch* w, bool ref) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&w->poll);
  if (uv_is_closing(handle)) return;
  if (ref) uv_ref(handle);
  else uv_unref(handle);
}

}  // namespace confine
