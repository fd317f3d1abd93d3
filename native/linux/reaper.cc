#include "reaper.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "../posix/exit_watch.h"
#include "../posix/thread.h"
#include "pidfd.h"

namespace confine {
namespace {

// One handed-over child: its pidfd sits in the epoll set, with this as its data, until the reap.
struct Reaped {
  pid_t pid;
  int pidfd;
  AfterReap afterReap;
};

// How long an afterReap that returned false waits before it is called again; also how long a
// pidfd that polled readable before its child could be reaped waits to be armed again.
constexpr int kRetryMs = 1000;

// Made once and never destroyed (nor the fds closed): the detached reaper lives as long as the
// process, and process.exit() ends the workers (handing their children over) right before
// exit() runs the static destructors, which would destroy a mutex or vector in use here.
std::mutex& startLock = *new std::mutex;  // guards the epoll fd's creation and the thread's start
int epollFd = -1;
// RetryOnReaper()'s queue: the reaper takes it when wakeFd (an eventfd in the epoll set, with
// no data pointer) becomes readable.
int wakeFd = -1;
std::mutex& queueLock = *new std::mutex;
std::vector<Reaped*>& queued = *new std::vector<Reaped*>;

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// A child's pidfd in the epoll set, one-shot: once it has polled readable it stays out of the
// waits until armed again (a traced child polls readable while its tracer, not wait4 here, sees
// the exit first: level-triggered, that spun the thread).
int Arm(Reaped* r, int op) {
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = r;
  return epoll_ctl(epollFd, op, r->pidfd, &ev);
}

// The afterReaps not done yet: called again once kRetryMs have passed since the last round.
void RetryLeft(std::vector<Reaped*>* left) {
  std::vector<Reaped*> still;
  for (Reaped* r : *left) {
    if (r->afterReap()) delete r;
    else still.push_back(r);
  }
  left->swap(still);
}

// The children that polled readable but could not be reaped yet: armed again.
void RearmUnreaped(std::vector<Reaped*>* unreaped) {
  for (Reaped* r : *unreaped) Arm(r, EPOLL_CTL_MOD);
  unreaped->clear();
}

void* ReaperMain(void*) {
  std::vector<Reaped*> left;      // reaped, afterReap to be called again
  std::vector<Reaped*> unreaped;  // polled readable, not reapable yet: armed again at the tick
  int64_t nextTick = 0;
  // Before something joins an empty list: the next tick is a full period away.
  auto willWait = [&]() {
    if (left.empty() && unreaped.empty()) nextTick = NowMs() + kRetryMs;
  };
  struct epoll_event events[64];
  for (;;) {
    int timeout = -1;
    if (!left.empty() || !unreaped.empty()) {
      int64_t wait = nextTick - NowMs();
      timeout = wait > 0 ? static_cast<int>(wait) : 0;
    }
    // epoll_ctl from other threads adds to the set while we wait here (epoll_wait(2), NOTES).
    int n = epoll_wait(epollFd, events, 64, timeout);
    if (n < 0 && errno != EINTR) n = 0;  // not seen in practice; the retries below still run
    for (int i = 0; i < n; i++) {
      auto* r = static_cast<Reaped*>(events[i].data.ptr);
      if (r == nullptr) {  // wakeFd: afterReaps queued by RetryOnReaper()
        uint64_t count;
        if (read(wakeFd, &count, sizeof count) < 0) continue;
        std::lock_guard<std::mutex> lock(queueLock);
        if (queued.empty()) continue;
        willWait();
        left.insert(left.end(), queued.begin(), queued.end());
        queued.clear();
        continue;
      }
      ExitStatus st;
      if (!Reap(r->pid, WNOHANG, &st)) {
        willWait();
        unreaped.push_back(r);
        continue;
      }
      epoll_ctl(epollFd, EPOLL_CTL_DEL, r->pidfd, nullptr);
      close(r->pidfd);
      if (r->afterReap()) {
        delete r;
      } else {
        willWait();
        left.push_back(r);
      }
    }
    if ((!left.empty() || !unreaped.empty()) && NowMs() >= nextTick) {
      RetryLeft(&left);
      RearmUnreaped(&unreaped);
      nextTick = NowMs() + kRetryMs;
    }
  }
  return nullptr;
}

// The epoll set and its thread, made on first use. 0 or an errno value.
int Start(const char** syscall) {
  std::lock_guard<std::mutex> lock(startLock);
  if (epollFd >= 0) return 0;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    *syscall = "epoll_create1";
    return errno;
  }
  int wake = eventfd(0, EFD_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  if (wake < 0 || epoll_ctl(fd, EPOLL_CTL_ADD, wake, &ev) < 0) {
    int err = errno;
    if (wake >= 0) close(wake);
    close(fd);
    *syscall = wake < 0 ? "eventfd" : "epoll_ctl";
    return err;
  }
  epollFd = fd;
  wakeFd = wake;
  int err = StartHelperThread(ReaperMain, nullptr, 128 * 1024);  // it waits, reaps, removes dirs
  if (err != 0) {
    close(wake);
    close(fd);
    epollFd = wakeFd = -1;
    *syscall = "pthread_create";
    return err;
  }
  return 0;
}

}  // namespace

int HandToReaper(pid_t pid, AfterReap afterReap, const char** syscall) {
  if (int err = Start(syscall)) return err;
  // A pidfd of our own, opened now: not reaped yet, the pid can name no other process, and no
  // descriptor of the caller's (which user code may have closed and reused) is trusted.
  int fd = pidfd::Open(pid);
  if (fd < 0) {
    *syscall = "pidfd_open";
    return -fd;
  }
  auto* r = new Reaped{pid, fd, std::move(afterReap)};
  if (Arm(r, EPOLL_CTL_ADD) < 0) {
    int err = errno;
    close(fd);
    delete r;
    *syscall = "epoll_ctl";
    return err;
  }
  return 0;
}

int RetryOnReaper(AfterReap afterReap, const char** syscall) {
  if (int err = Start(syscall)) return err;
  {
    std::lock_guard<std::mutex> lock(queueLock);
    queued.push_back(new Reaped{0, -1, std::move(afterReap)});
  }
  uint64_t one = 1;
  if (write(wakeFd, &one, sizeof one) < 0) {
    // Only an eventfd at its maximum count refuses: the reaper has a wake-up pending anyway.
  }
  return 0;
}

}  // namespace confine
