// ProbeIsolation: each isolation step tried for real in a throwaway CLONE_VM|CLONE_VFORK child
// (the same kind of child a spawn makes), which writes what happened into the parent's memory
// and exits. Nothing it does is visible outside it: its mounts live in its own mount namespace.
#include "isolation_probe.h"

#include <errno.h>
#include <linux/sched.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "clone.h"
#include "isolation_plan.h"
#include "isolation_sys.h"

namespace confine {
namespace {

constexpr uint64_t kAll = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

struct ProbeChildArgs {
  bool user;
  const char* uidMap;
  size_t uidMapLen;
  const char* gidMap;
  size_t gidMapLen;
  const char* dir;
  const struct ifreq* lo;
  IsolationProbe::Path* out;  // the parent's memory (CLONE_VM)
};

long WriteFile(const char* path, const char* text, size_t len) {
  long fd = sys::OpenWriteOnly(path);
  if (fd < 0) return fd;
  long r = sys::Write(static_cast<int>(fd), text, len);
  sys::Close(static_cast<int>(fd));
  return r < 0 ? r : 0;
}

int ProbeChild(void* arg) {
  const ProbeChildArgs& a = *static_cast<const ProbeChildArgs*>(arg);
  IsolationProbe::Path& out = *a.out;
  long r = 0;
  if (a.user) {
    r = WriteFile("/proc/self/setgroups", "deny", 4);
    if (r == 0) r = WriteFile("/proc/self/gid_map", a.gidMap, a.gidMapLen);
    if (r == 0) r = WriteFile("/proc/self/uid_map", a.uidMap, a.uidMapLen);
    out.uidMap = static_cast<int>(-r);
    if (r < 0) sys::Exit(0);
  }
  r = sys::Mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (r == 0) r = sys::Mount("tmpfs", a.dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  out.mounts = static_cast<int>(-r);
  if (r == 0) {
    r = sys::Mount("proc", a.dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    out.proc = static_cast<int>(-r);
  }
  long s = sys::Socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    r = sys::Ioctl(static_cast<int>(s), SIOCSIFFLAGS, const_cast<struct ifreq*>(a.lo));
    sys::Close(static_cast<int>(s));
  } else {
    r = s;
  }
  out.loopback = static_cast<int>(-r);
  sys::Exit(0);
}

// Runs the probe child with flags; the clone's own errno, or 0.
int RunProbe(uint64_t flags, ProbeChildArgs* args) {
  long pid = linux_clone::RunVforked(flags, ProbeChild, args);
  if (pid < 0) return static_cast<int>(-pid);
  int status;
  while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {}
  return 0;
}

// Clone alone with one namespace (plus the user namespace where used); the child exits at once.
int ExitAtOnce(void*) { sys::Exit(0); }
int TryClone(uint64_t flags) {
  long pid = linux_clone::RunVforked(flags, ExitAtOnce, nullptr);
  if (pid < 0) return static_cast<int>(-pid);
  int status;
  while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {}
  return 0;
}

void ProbePath(bool user, IsolationProbe::Path* out) {
  static const char* dir = [] {
    for (const char* d : {"/tmp", "/mnt", "/var/tmp", "/opt", "/usr"}) {
      if (access(d, F_OK) == 0) return d;
    }
    return "/";
  }();
  const uint64_t base = user ? CLONE_NEWUSER : 0;
  out->user = user ? TryClone(CLONE_NEWUSER) : -1;
  out->mount = TryClone(base | CLONE_NEWNS);
  out->pid = TryClone(base | CLONE_NEWPID);
  out->net = TryClone(base | CLONE_NEWNET);
  out->ipc = TryClone(base | CLONE_NEWIPC);
  out->uts = TryClone(base | CLONE_NEWUTS);

  std::string uid = std::to_string(geteuid()), gid = std::to_string(getegid());
  std::string uidMap = uid + " " + uid + " 1\n", gidMap = gid + " " + gid + " 1\n";
  struct ifreq lo;
  memset(&lo, 0, sizeof lo);
  strncpy(lo.ifr_name, "lo", IFNAMSIZ - 1);
  lo.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
  ProbeChildArgs args = {
      user, uidMap.c_str(), uidMap.size(), gidMap.c_str(), gidMap.size(), dir, &lo, out};
  out->clone = RunProbe(base | kAll, &args);
}

}  // namespace

IsolationProbe ProbeIsolation() {
  IsolationProbe p;
  if (geteuid() == 0) {
    p.directTried = true;
    ProbePath(false, &p.direct);
  }
  ProbePath(true, &p.userns);
  p.mountSetattr = isolation::HaveMountSetattr();
  long r = syscall(SYS_openat2, -1, "", nullptr, 0);
  p.openat2 = !(r < 0 && errno == ENOSYS);
  return p;
}

}  // namespace confine
