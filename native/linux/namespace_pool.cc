// The spare namespace maker: one detached thread that unshares a new network (or IPC) namespace
// for itself, keeps an fd of it, and does it again, until each kind that was asked for has
// kSpares ready. Namespaces are per thread for unshare(CLONE_NEWNET|CLONE_NEWIPC), so the other
// threads of the supervisor never leave their own.
#include "namespace_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace confine {
namespace nspool {
namespace {

// Up to kSpares of each kind; the maker is woken once half of them are taken, so that one wake-up
// (a futex wake of a sleeping thread: ~0.03 ms of the spawning thread, measured with perf) refills
// several, instead of a wake-up on every spawn.
constexpr size_t kSpares = 4;
constexpr size_t kRefillAt = kSpares / 2;
constexpr int kKinds = 3;

struct Pool {
  std::mutex mu;
  std::condition_variable wake;
  std::vector<int> ready[kKinds];
  bool wanted[kKinds] = {false, false, false};
  bool failed[kKinds] = {false, false, false};  // unshare refused: stop trying that kind
  bool started = false;
};

Pool& ThePool() {
  static Pool* pool = new Pool;  // never destroyed: the thread may outlive static destructors
  return *pool;
}

bool LoopbackUp() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  bool ok = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  close(s);
  return ok;
}

// A new namespace of that kind for this thread, and an fd of it; -1 on failure.
int Make(int kind) {
  bool net = kind != static_cast<int>(Kind::kIpc);
  if (unshare(net ? CLONE_NEWNET : CLONE_NEWIPC) != 0) return -1;
  int fd =
      open(net ? "/proc/thread-self/ns/net" : "/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && kind == static_cast<int>(Kind::kNetLoopback) && !LoopbackUp()) {
    close(fd);
    return -1;
  }
  return fd;
}

void Maker() {
  Pool& p = ThePool();
  std::unique_lock<std::mutex> lock(p.mu);
  for (;;) {
    int kind = -1;
    for (int k = 0; k < kKinds && kind < 0; k++) {
      if (p.wanted[k] && !p.failed[k] && p.ready[k].size() < kSpares) kind = k;
    }
    if (kind < 0) {
      p.wake.wait(lock);
      continue;
    }
    lock.unlock();
    int fd = Make(kind);
    lock.lock();
    if (fd < 0) p.failed[kind] = true;
    else p.ready[kind].push_back(fd);
  }
}

}  // namespace

int Take(Kind kind) {
  Pool& p = ThePool();
  int k = static_cast<int>(kind);
  std::lock_guard<std::mutex> lock(p.mu);
  if (!p.started) {
    // Detached: it only ever waits or makes namespaces, and ends with the process. Started with
    // every signal blocked, so the process's signals are never handled on it.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread(Maker).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    p.started = true;
  }
  bool first = !p.wanted[k];
  p.wanted[k] = true;
  int fd = -1;
  if (!p.ready[k].empty()) {
    fd = p.ready[k].back();
    p.ready[k].pop_back();
  }
  if (first || p.ready[k].size() <= kRefillAt) p.wake.notify_one();
  return fd;
}

}  // namespace nspool
}  // namespace confine
