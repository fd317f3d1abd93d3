// The parent's side of spawn. Everything the child needs is built here, before the clone, as
// plain memory the child can read without allocating: argv/envp as char* arrays, resolved ids,
// rlimits, fds, and an O_CLOEXEC error pipe. After the clone the parent reads that pipe: EOF
// means execve succeeded; a ChildError record means a stage failed, and the child is reaped
// (by its own pid, never -1) before the error is returned.
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "child.h"
#include "fd.h"
#include "process_id.h"
#include "start_child.h"

#ifdef __linux__
#include "../linux/dumpable.h"
#include "../linux/guards.h"
#include "../linux/isolation.h"
#endif

namespace confine {

bool RlimitFromName(const std::string& name, int* resource) {
  static const struct {
    const char* name;
    int resource;
  } kTable[] = {
      {"nofile", RLIMIT_NOFILE}, {"cpu", RLIMIT_CPU},     {"fsize", RLIMIT_FSIZE},
      {"core", RLIMIT_CORE},     {"stack", RLIMIT_STACK}, {"as", RLIMIT_AS},
      {"nproc", RLIMIT_NPROC},
  };
  for (const auto& e : kTable) {
    if (name == e.name) {
      *resource = e.resource;
      return true;
    }
  }
  return false;
}

namespace {

std::vector<char*> CStringArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Linux: the supervisor's own oom_score_adj; 0 where there is none.
int OwnOomScoreAdj() {
#ifdef __linux__
  int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[16] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  return atoi(buf);
#else
  return 0;
#endif
}

// Waits for exactly this pid, so no zombie stays behind and nobody else's child is touched.
void Reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
}

SpawnResult Failure(const char* stage, const char* syscall, int err) {
  SpawnResult r;
  r.stage = stage;
  r.syscall = syscall;
  r.err = err;
  return r;
}

}  // namespace

SpawnResult Spawn(const SpawnRequest& req) {
  // Everything the child reads lives in these locals until the child has exec'd or exited.
  std::vector<char*> argv = CStringArray(req.argv);
  std::vector<char*> envp = CStringArray(req.envp);
  std::vector<gid_t> groups(req.groups.begin(), req.groups.end());
  std::vector<ChildRlimit> rlimits;
  for (const auto& [resource, value] : req.rlimits) {
    rlimits.push_back({resource, value < 0 ? static_cast<uint64_t>(RLIM_INFINITY)
                                           : static_cast<uint64_t>(value)});
  }
  std::vector<int> scratch(req.stdio.size());

  ChildPlan plan;
  plan.file = req.file.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = req.hasCwd ? req.cwd.c_str() : nullptr;
  plan.setGroups = req.hasGroups;
  plan.groups = groups.data();
  plan.groupCount = groups.size();
  plan.setGid = req.gid >= 0;
  plan.gid = static_cast<gid_t>(req.gid);
  plan.setUid = req.uid >= 0;
  plan.uid = static_cast<uid_t>(req.uid);
  plan.rlimits = rlimits.data();
  plan.rlimitCount = rlimits.size();
  plan.stdio = req.stdio.data();
  plan.stdioCount = req.stdio.size();
  plan.stdioScratch = scratch.data();
  plan.cgroupProcsFds = req.cgroupProcsFds.data();
  plan.cgroupProcsCount = req.cgroupProcsFds.size();
  plan.setsid = req.setsid;
  plan.noNewPrivs = req.noNewPrivs;
  plan.pdeathsig = req.pdeathsig;
  plan.parentPid = OwnPid();
  plan.resetOomScoreAdj = req.resetOomScoreAdj && OwnOomScoreAdj() < 0;
  plan.useCloseRange = !req.forceNoCloseRange;

  // Kernel guards: the filter and the Landlock ruleset come from per-policy caches; this keeps
  // what the child reads (and the ruleset fd) alive until it has exec'd.
#ifdef __linux__
  PreparedGuards guards;
  if (req.guards.Any()) {
    GuardFailure why;
    if (!PrepareGuards(req.guards, static_cast<int>(req.stdio.size()), &guards, &why))
      return Failure(why.stage, why.syscall, why.err);
    plan.guards = &guards.child;
    if (guards.child.landlock) plan.keepFd = guards.child.landlockPlan.rulesetFd;
  }
#else
  if (req.guards.Any()) return Failure("guards", "spawn", ENOSYS);  // Linux only
#endif

  StartOptions opts;
  opts.wantPidfd = !req.forceNoPidfd;
  opts.clearSighand = !req.forceNoClearSighand;
  opts.cgroupFd = req.cgroupFd;

#ifdef __linux__
  IsolationBuilder isolationStorage;  // lives until the child has exec'd or failed
  IsolationPlan isolation;
  if (req.isolation.active) {
    const char* what = nullptr;
    if (int err = isolationStorage.Build(req.isolation, req.file, req.argv, &isolation, &what)) {
      SpawnResult r = Failure("namespaces", "prepare", err);
      r.detail = what;
      return r;
    }
    plan.isolation = &isolation;
    opts.cloneFlags = isolation.cloneFlags;
  }
#else
  if (req.isolation.active) return Failure("namespaces", "clone", ENOSYS);
#endif

  int errPipe[2];
  if (int err = PipeCloexec(errPipe)) return Failure("pipe", "pipe2", err);
  plan.errFd = errPipe[1];

#ifdef __linux__
  // The child shares this memory until its exec; a uid change in it would leave the supervisor
  // non-dumpable (dumpable.h says why the flag is put back only by the last spawn in flight).
  std::optional<DumpableGuard> dumpable(std::in_place);
#endif
  StartResult started = StartChild(plan, opts);
#ifdef __linux__
  dumpable.reset();  // the clone's vfork has returned: no child shares this memory now
#endif

  close(errPipe[1]);  // now only the child holds the write end (until its exec closes it)
  if (started.pid < 0) {
    close(errPipe[0]);
    const char* stage = started.namespaces        ? "namespaces"
                        : started.cgroupPlacement ? "cgroup"
                                                  : "clone";
    return Failure(stage, started.syscall, started.err);
  }

  // startAsync, on the init path only: the clone's vfork has returned, so the child is past the
  // init's exec (or failed before it); the init's own vfork child holds the write end until the
  // program's exec, a while. What is in the pipe already is read here, the rest by the caller's
  // poll. Without the init there is nothing to gain and the answer would be a race: the vfork
  // returns inside execve, before the error pipe's close reaches the pipe (at execve's return).
  bool startAsync = false;
#ifdef __linux__
  startAsync = req.startAsync && plan.isolation != nullptr && isolation.initFd >= 0;
#endif
  if (startAsync) fcntl(errPipe[0], F_SETFL, O_NONBLOCK);
  ChildError rec;
  ssize_t got = 0;
  for (;;) {
    ssize_t n = read(errPipe[0], reinterpret_cast<char*>(&rec) + got, sizeof rec - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && got == 0) {
      // Nothing yet: the outcome comes later, through the caller's poll of the pipe.
      SpawnResult pending;
      pending.ok = true;
      pending.pid = started.pid;
      pending.pidfd = started.pidfd;
      pending.errFd = errPipe[0];
      return pending;
    }
    if (n < 0 && errno == EAGAIN) {
      // A record is written whole (12 bytes, below PIPE_BUF): the rest is on its way.
      fcntl(errPipe[0], F_SETFL, 0);
      continue;
    }
    if (n <= 0) break;  // EOF (exec'd), or a read error we cannot act on
    got += n;
    if (got == sizeof rec) break;
  }
  close(errPipe[0]);

  if (got == sizeof rec) {
    Reap(started.pid);
    if (started.pidfd >= 0) close(started.pidfd);
    return Failure(StageName(static_cast<Stage>(rec.stage)),
                   SyscallName(static_cast<Syscall>(rec.syscall)), rec.err);
  }

  SpawnResult ok;
  ok.ok = true;
  ok.pid = started.pid;
  ok.pidfd = started.pidfd;
  return ok;
}

}  // namespace confine
