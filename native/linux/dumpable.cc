// See dumpable.h.
#include "dumpable.h"

#include <errno.h>
#include <sys/prctl.h>

#include <mutex>

namespace confine {
namespace {

std::mutex mu;
int inFlight = 0;  // spawns between their clone and the child's exec or exit
int found = -1;    // the flag the first of them found (-1: could not read it)

}  // namespace

DumpableGuard::DumpableGuard() {
  std::lock_guard<std::mutex> lock(mu);
  if (inFlight++ == 0) found = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

DumpableGuard::~DumpableGuard() {
  std::lock_guard<std::mutex> lock(mu);
  if (--inFlight != 0 || found < 0) return;
  // No child shares this memory any more: what a child's uid change did to the flag is undone.
  if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != found) prctl(PR_SET_DUMPABLE, found, 0, 0, 0);
}

int Dumpable() {
  int r = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  return r < 0 ? -errno : r;
}

}  // namespace confine
