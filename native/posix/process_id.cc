#include "process_id.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

namespace confine {
namespace {

// 0: not asked yet (or forgotten by a fork). Any thread may read it (the exit watches run on
// each environment's loop thread, the reaper on its own).
std::atomic<pid_t> cached{0};

void ForgetInForkedChild() { cached.store(0, std::memory_order_relaxed); }

// At load, before any thread of ours can fork or spawn: registered once for the process.
const bool kForgetsOnFork = pthread_atfork(nullptr, nullptr, ForgetInForkedChild) == 0;

}  // namespace

pid_t OwnPid() {
  if (!kForgetsOnFork) return getpid();
  pid_t pid = cached.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = getpid();
    cached.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

}  // namespace confine
