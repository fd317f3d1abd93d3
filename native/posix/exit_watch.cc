#include "exit_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __APPLE__
#include <sys/event.h>
#endif

#include <memory>

#include "thread.h"

#ifdef __linux__
#include "../linux/pidfd.h"
#endif

namespace confine {
namespace {

int64_t Micros(const struct timeval& tv) {
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

}  // namespace

// wait4 on exactly this pid. Returns false when the child has not exited yet (WNOHANG).
bool Reap(pid_t pid, int options, ExitStatus* st) {
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t r;
  do { r = wait4(pid, &status, options, &ru); } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    st->err = errno;
    return true;
  }
  if (WIFSIGNALED(status)) {
    st->signaled = true;
    st->termSignal = WTERMSIG(status);
  } else {
    st->exitCode = WEXITSTATUS(status);
  }
  st->userMicros = Micros(ru.ru_utime);
  st->systemMicros = Micros(ru.ru_stime);
#ifdef __APPLE__
  st->maxRssBytes = static_cast<int64_t>(ru.ru_maxrss);  // bytes on macOS
#else
  st->maxRssBytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;  // KiB on Linux and the BSDs
#endif
  return true;
}

// ---- on the event loop ----

struct LoopWatch {
  uv_poll_t poll;
  pid_t pid;
  int fd;   // ours: a dup of the pidfd, or a kqueue
  FdId id;  // what fd was when we made it: a number closed twice by user code is not ours to close
  int callerFd = -1;  // the caller's pidfd (Linux): the same open file as fd while both are ours
  int fdOurs = -1;    // fd checked before the reap (a pidfd's fdinfo names no pid after it)
  ExitCallback onExit;
};

namespace {

#ifdef __APPLE__
// A kqueue that becomes readable when pid exits.
int ExitQueue(pid_t pid, int* out, const char** syscall) {
  int kq = kqueue();
  if (kq < 0) {
    *syscall = "kqueue";
    return errno;
  }
  fcntl(kq, F_SETFD, FD_CLOEXEC);
  struct kevent ev;
  EV_SET(&ev, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  if (kevent(kq, &ev, 1, nullptr, 0, nullptr) < 0) {
    if (errno != ESRCH) {
      int err = errno;
      close(kq);
      *syscall = "kevent";
      return err;
    }
    // Already exited, a zombie waiting for us: make the queue readable right away.
    struct kevent user[2];
    EV_SET(&user[0], 1, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, nullptr);
    EV_SET(&user[1], 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    if (kevent(kq, user, 2, nullptr, 0, nullptr) < 0) {
      int err = errno;
      close(kq);
      *syscall = "kevent";
      return err;
    }
  }
  *out = kq;
  return 0;
}
#endif

void OnClosed(uv_handle_t* handle) {
  auto* w = static_cast<LoopWatch*>(handle->data);
  // Checked at the end of a watch: its fd may have been closed by user code meanwhile (the pidfd
  // the tree holds kept the poll alive: the exit was still seen) and the number given to a file
  // of the user's. A pidfd's verdict was taken before the reap (CheckPidfds).
#ifdef __linux__
  if (w->fdOurs < 0 ? pidfd::StillOurs(w->fd, w->id, w->pid, w->callerFd) : w->fdOurs == 1) {
    close(w->fd);
  }
#else
  CloseIfOurs(w->fd, w->id);
#endif
  delete w;
}

#ifdef __linux__
// Both pidfds, before the reap: one kcmp when both are still the same open file (the common
// case, as cheap as the fstat it follows), else each checked on its own (pidfd::StillOurs).
void CheckPidfds(LoopWatch* w, ExitStatus* st) {
  bool both = StillOurs(w->fd, w->id) && pidfd::SameOpenFile(w->fd, w->callerFd) == 1;
  w->fdOurs = both || pidfd::StillOurs(w->fd, w->id, w->pid, -1) ? 1 : 0;
  st->pidfdOurs = both || pidfd::StillOurs(w->callerFd, w->id, w->pid, -1) ? 1 : 0;
}
#endif

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* w = static_cast<LoopWatch*>(handle->data);
  ExitStatus st;
  if (status < 0) {
    // The poll itself failed (not seen in practice). Do not block the loop in wait4: report.
    st.err = -status;
  } else {
#ifdef __APPLE__
    struct kevent events[4];
    struct timespec zero = {0, 0};
    kevent(w->fd, nullptr, 0, events, 4, &zero);  // consume what made the kqueue readable
#endif
#ifdef __linux__
    CheckPidfds(w, &st);
#endif
    // A pidfd polls readable once the process has exited; level-triggered, so if wait4 is a
    // moment early we are simply called again.
    if (!Reap(w->pid, WNOHANG, &st)) return;
  }
  ExitCallback onExit = std::move(w->onExit);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
  onExit(st);
}

}  // namespace

void CancelLoopWatch(LoopWatch* w) {
  // The callback (and the JavaScript function it holds) goes now, while the environment that
  // cancels is still alive: OnClosed runs on a later loop turn, after it is gone (an unref()'d
  // watch at a natural exit, a worker's teardown).
  ExitCallback().swap(w->onExit);
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&w->poll))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
}

pid_t LoopWatchPid(const LoopWatch* w) { return w->pid; }

bool LoopWatchHolds(const LoopWatch* w, int fd) {
#ifdef __linux__
  return pidfd::StillOurs(fd, w->id, w->pid, w->fd);
#else
  (void)w;
  return fd >= 0;
#endif
}

void RefLoopWatch(LoopWatch* w, bool ref) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&w->poll);
  if (uv_is_closing(handle)) return;
  if (ref) uv_ref(handle);
  else uv_unref(handle);
}

int WatchExitOnLoop(uv_loop_t* loop, pid_t pid, int pidfd, ExitCallback onExit,
                    const char** syscall, LoopWatch** watch) {
  int fd = -1;
#ifdef __APPLE__
  (void)pidfd;
  if (int err = ExitQueue(pid, &fd, syscall)) return err;
#else
  if (pidfd < 0) return ENOTSUP;
  // Our own copy: the caller keeps its pidfd for signals and may close it whenever it likes;
  // closing an fd under an active uv_poll would be an error.
  fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    *syscall = "fcntl";
    return errno;
  }
#endif
  auto* w = new LoopWatch;
  w->pid = pid;
  w->fd = fd;
  w->id = IdOf(fd);  // on Linux also the caller's pidfd's: the same open file
#ifdef __linux__
  w->callerFd = pidfd;
#endif
  w->onExit = std::move(onExit);
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r == 0) {
    w->poll.data = w;
    r = uv_poll_start(&w->poll, UV_READABLE, OnReadable);
    if (r == 0) *watch = w;
    if (r != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
      *syscall = "uv_poll_start";
      return -r;
    }
    return 0;
  }
  close(fd);
  delete w;
  *syscall = "uv_poll_init";
  return -r;
}

namespace {

// ---- on a thread ----

struct ThreadWatch {
  pid_t pid;
  ExitCallback onExit;
};

void* WaiterMain(void* arg) {
  std::unique_ptr<ThreadWatch> w(static_cast<ThreadWatch*>(arg));
  ExitStatus st;
  Reap(w->pid, 0, &st);
  w->onExit(st);
  return nullptr;
}

}  // namespace

int WatchExitOnThread(pid_t pid, ExitCallback onExit, const char** syscall) {
  auto* w = new ThreadWatch{pid, std::move(onExit)};
  int err = StartHelperThread(WaiterMain, w, 128 * 1024);  // it only waits
  if (err != 0) {
    delete w;
    *syscall = "pthread_create";
    return err;
  }
  return 0;
}

}  // namespace confine
