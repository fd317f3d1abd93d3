#include "start_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "child.h"
#include "fd.h"

namespace confine {

struct StartWatch {
  uv_poll_t poll;
  int fd;  // the error pipe's read end, O_NONBLOCK
  // A second reference to the same pipe end, never polled: user code that closes fd by mistake
  // (a double close) would otherwise drop the poll with the pipe (the kernel removes a file from
  // an epoll set with its last descriptor) and the start would never settle. With it the EOF or
  // the record still arrives, and is read through whichever of the two is still ours.
  int spare = -1;
  FdId id;  // what both were when the watch began; one fstat per watch
  ChildError rec;
  size_t got = 0;
  StartCallback onStart;
};

namespace {

void CloseFds(StartWatch* w) {
  if (w->fd >= 0) CloseIfOurs(w->fd, w->id);
  if (w->spare >= 0) CloseIfOurs(w->spare, w->id);
  w->fd = w->spare = -1;
}

void OnClosed(uv_handle_t* handle) {
  auto* w = static_cast<StartWatch*>(handle->data);
  CloseFds(w);
  delete w;
}

void Finish(uv_poll_t* handle, StartWatch* w, const StartOutcome& out) {
  // The pipe is closed before the callback runs (a stopped poll no longer watches its fd): the
  // caller sees no fd of the start left once it knows the outcome.
  uv_poll_stop(handle);
  CloseFds(w);
  StartCallback onStart = std::move(w->onStart);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
  onStart(out);
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
    int fd = StillOurs(w->fd, w->id) ? w->fd : StillOurs(w->spare, w->id) ? w->spare : -1;
    if (fd < 0) {
      // Both closed by someone else: what the child said can no longer be read.
      out.failed = true;
      out.stage = "spawn";
      out.syscall = "fstat";
      out.err = EBADF;
      out.unobservable = true;
      Finish(handle, w, out);
      return;
    }
    ssize_t n;
    do {
      n = read(fd, reinterpret_cast<char*>(&w->rec) + w->got, sizeof w->rec - w->got);
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
  Finish(handle, w, out);
}

}  // namespace

int WatchStartOnLoop(uv_loop_t* loop, int errFd, StartCallback onStart, const char** syscall,
                     StartWatch** watch) {
  auto* w = new StartWatch;
  w->fd = errFd;
  w->onStart = std::move(onStart);
  w->spare = fcntl(errFd, F_DUPFD_CLOEXEC, 3);
  if (w->spare < 0) {
    int err = errno;
    close(errFd);
    delete w;
    *syscall = "fcntl";
    return err;
  }
  w->id = IdOf(errFd);
  int r = uv_poll_init(loop, &w->poll, errFd);
  if (r != 0) {
    close(errFd);
    close(w->spare);
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
