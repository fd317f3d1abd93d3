#include "probe.h"

#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>

#include "../linux/capabilities.h"
#include "../linux/clone.h"
#include "../linux/landlock.h"
#include "../linux/pidfd.h"
#include "../linux/seccomp.h"
#endif
#ifdef __APPLE__
#include <sys/event.h>
#include <unistd.h>
#endif

namespace confine {

#ifdef __linux__
namespace {
// close_range(2) exists: asked for the range [~0U, ~0U], which is valid and closes nothing.
bool ProbeCloseRange() {
#ifdef SYS_close_range
  return syscall(SYS_close_range, ~0U, ~0U, 0) == 0;
#else
  return false;
#endif
}
}  // namespace
#endif

Features ProbeFeatures() {
  Features f;
#ifdef __linux__
  f.pidfd = pidfd::ProbeOpen();
  f.pidfdSendSignal = pidfd::ProbeSendSignal();
  f.clone3 = linux_clone::ProbeClone3();
  f.cloneIntoCgroup = linux_clone::ProbeCloneIntoCgroup();
  f.closeRange = ProbeCloseRange();
  f.seccompFilter = seccomp::ProbeFilter();
  f.landlockAbi = landlock::Abi();
  f.capLastCap = caps::LastCap();
#endif
#ifdef __APPLE__
  int kq = kqueue();
  if (kq >= 0) {
    f.kqueue = true;
    close(kq);
  }
#endif
  return f;
}

const char* PlatformName() {
#if defined(__linux__)
  return "linux";
#elif defined(__APPLE__)
  return "darwin";
#elif defined(__FreeBSD__)
  return "freebsd";
#elif defined(__OpenBSD__)
  return "openbsd";
#elif defined(__NetBSD__)
  return "netbsd";
#else
  return "unknown";
#endif
}

}  // namespace confine
