// N-API glue: the only file that knows napi types. It converts JS values to the plain C++
// structs of the per-OS cores and reports their results back as JS values. The contract is
// docs/native-api.md. lib/ validates every value before calling in; the checks here only keep a
// wrong call from crashing the process (TypeError), they are not the validation layer.
#include <napi.h>

#if defined(__linux__) || defined(__APPLE__) || defined(__unix__)
#define CONFINE_POSIX 1
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "posix/environ.h"
#include "posix/errno_name.h"
#include "posix/exit_watch.h"
#include "posix/file_stat.h"
#include "posix/fd.h"
#include "posix/probe.h"
#include "posix/signal.h"
#include "posix/spawn.h"
#include "posix/start_watch.h"
#include "posix/user.h"
#endif
#ifdef __linux__
#include "linux/capabilities.h"
#include "linux/cgroup_dirs.h"
#include "linux/dumpable.h"
#include "linux/isolation_probe.h"
#include "linux/landlock.h"
#include "linux/reaper.h"
#include "linux/seccomp.h"
#endif

#define CONFINE_ADDON_VERSION "0.1.0"

#ifdef CONFINE_POSIX
namespace {

using confine::ErrnoName;

std::string NameOfErrno(int err) {
  const char* name = ErrnoName(err);
  return name ? name : "E" + std::to_string(err);
}

// An Error carrying { code, syscall, errno, errnoNumber, stage }.
Napi::Error SystemError(Napi::Env env, const char* code, const std::string& what, const char* stage,
                        const char* syscall, int err) {
  std::string message =
      what + ": " + (syscall ? syscall : "?") + " " + NameOfErrno(err) + " (" + strerror(err) + ")";
  if (stage)
    message = what + ": stage " + stage + ": " + (syscall ? syscall : "?") + " " +
              NameOfErrno(err) + " (" + strerror(err) + ")";
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("syscall", syscall ? Napi::Value(Napi::String::New(env, syscall)) : env.Null());
  e.Set("errno", Napi::String::New(env, NameOfErrno(err)));
  e.Set("errnoNumber", Napi::Number::New(env, err));
  e.Set("stage", stage ? Napi::Value(Napi::String::New(env, stage)) : env.Null());
  return e;
}

// Throws SystemError(...) and returns nothing: the caller returns right after
// (NAPI_DISABLE_CPP_EXCEPTIONS).
void ThrowSystemError(Napi::Env env, const char* code, const std::string& what, const char* stage,
                      const char* syscall, int err) {
  SystemError(env, code, what, stage, syscall, err).ThrowAsJavaScriptException();
}

bool Fail(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

// ---- reading the spawn request ----

// A key of a request object (spawn(), prepare(), and each object nested in them), read only when
// the object has it as its own property: a key it lacks is undefined. Never looked up along the
// prototype chain, where a polluted Object.prototype (forceNoPidfd: true) would change a spawn
// and a getter there would run JavaScript in the middle of one (between the cgroup placement's
// identity check and the clone). Every read of a request's keys goes through here.
Napi::Value Own(const Napi::Object& o, const char* key) {
  Napi::Env env = o.Env();
  Napi::String name = Napi::String::New(env, key);
  return o.HasOwnProperty(name) ? o.Get(name) : env.Undefined();
}

// An element of an array in a request, as Own(): a hole is undefined, not Array.prototype's.
Napi::Value OwnAt(const Napi::Array& a, uint32_t i) {
  Napi::Env env = a.Env();
  Napi::String name = Napi::String::New(env, std::to_string(i));
  return a.HasOwnProperty(name) ? a.Get(name) : env.Undefined();
}

bool ReadString(Napi::Env env, const Napi::Object& o, const char* key, std::string* out) {
  Napi::Value v = Own(o, key);
  if (!v.IsString()) return Fail(env, std::string("spawn: ") + key + " must be a string");
  *out = v.As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos)
    return Fail(env, std::string("spawn: ") + key + " contains a NUL byte");
  return true;
}

bool ReadStrings(Napi::Env env, const Napi::Object& o, const char* key,
                 std::vector<std::string>* out) {
  Napi::Value v = Own(o, key);
  if (!v.IsArray()) return Fail(env, std::string("spawn: ") + key + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) return Fail(env, std::string("spawn: ") + key + " must hold strings");
    std::string s = e.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos)
      return Fail(env, std::string("spawn: ") + key + " contains a NUL byte");
    out->push_back(std::move(s));
  }
  return true;
}

// A number, or the default when the key is undefined or null.
bool ReadInt(Napi::Env env, const Napi::Object& o, const char* key, int64_t def, int64_t* out) {
  Napi::Value v = Own(o, key);
  if (v.IsUndefined() || v.IsNull()) {
    *out = def;
    return true;
  }
  if (!v.IsNumber()) return Fail(env, std::string("spawn: ") + key + " must be a number");
  *out = v.As<Napi::Number>().Int64Value();
  return true;
}

bool ReadBool(const Napi::Object& o, const char* key) { return Own(o, key).ToBoolean().Value(); }

bool ReadInts(Napi::Env env, const Napi::Object& o, const char* key, bool* present,
              std::vector<int64_t>* out) {
  Napi::Value v = Own(o, key);
  *present = !(v.IsUndefined() || v.IsNull());
  if (!*present) return true;
  if (!v.IsArray()) return Fail(env, std::string("spawn: ") + key + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) return Fail(env, std::string("spawn: ") + key + " must hold numbers");
    out->push_back(e.As<Napi::Number>().Int64Value());
  }
  return true;
}

// An unsigned 64-bit integer given as a Number or a BigInt (inode numbers may pass 2^53).
bool ReadU64(Napi::Env env, const Napi::Object& o, const char* key, uint64_t* out) {
  Napi::Value v = Own(o, key);
  if (v.IsBigInt()) {
    bool lossless;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return true;
  } else if (v.IsNumber() && v.As<Napi::Number>().DoubleValue() >= 0) {
    *out = static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
    return true;
  }
  return Fail(env, std::string("spawn: ") + key + " must be a non-negative integer");
}

// An optional array of names (undefined or null: absent).
bool ReadNames(Napi::Env env, const Napi::Object& o, const char* key, bool* present,
               std::vector<std::string>* out) {
  Napi::Value v = Own(o, key);
  *present = !(v.IsUndefined() || v.IsNull());
  return !*present || ReadStrings(env, o, key, out);
}

#ifdef __linux__
// landlock.rules / treeRules / childRules: [{ path, access: 'read' | 'write', dev?, ino? }]
bool ReadPathRules(Napi::Env env, const Napi::Object& o, const char* key, bool withIdentity,
                   std::vector<confine::GuardRequest::PathRule>* out) {
  Napi::Value v = Own(o, key);
  if (v.IsUndefined() || v.IsNull()) return true;
  std::string what = std::string("spawn: landlock.") + key;
  if (!v.IsArray()) return Fail(env, what + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsObject()) return Fail(env, what + " must hold { path, access } objects");
    Napi::Object r = e.As<Napi::Object>();
    confine::GuardRequest::PathRule rule;
    if (!ReadString(env, r, "path", &rule.path)) return false;
    std::string access;
    if (!ReadString(env, r, "access", &access)) return false;
    if (access != "read" && access != "write")
      return Fail(env, what + ": access must be 'read' or 'write'");
    rule.write = access == "write";
    if (withIdentity && (!ReadU64(env, r, "dev", &rule.dev) || !ReadU64(env, r, "ino", &rule.ino)))
      return false;
    out->push_back(std::move(rule));
  }
  return true;
}

// capabilities: [names] | null; seccomp: { deny, denyIoUring, unixSocketsOnly } | null;
// landlock: { rules, treeRules, childRules, denyTcp, scopeSignals, scopeAbstractUnix } | null.
bool ReadGuards(Napi::Env env, const Napi::Object& o, confine::GuardRequest* g) {
  std::vector<std::string> names;
  if (!ReadNames(env, o, "capabilities", &g->capabilities, &names)) return false;
  for (const std::string& name : names) {
    int cap;
    if (!confine::caps::FromName(name, &cap))
      return Fail(env, "spawn: unknown capability '" + name + "'");
    g->keepCapabilities |= 1ULL << cap;
  }

  Napi::Value sv = Own(o, "seccomp");
  if (!(sv.IsUndefined() || sv.IsNull())) {
    if (!sv.IsObject()) return Fail(env, "spawn: seccomp must be an object");
    Napi::Object s = sv.As<Napi::Object>();
    g->seccomp = true;
    bool present;
    if (!ReadNames(env, s, "deny", &present, &g->seccompDeny)) return false;
    for (const std::string& name : g->seccompDeny) {
      if (!confine::seccomp::IsKnownSyscall(name))
        return Fail(env, "spawn: unknown system call '" + name + "'");
    }
    g->seccompDenyIoUring = ReadBool(s, "denyIoUring");
    g->seccompUnixSocketsOnly = ReadBool(s, "unixSocketsOnly");
  }

  Napi::Value lv = Own(o, "landlock");
  if (!(lv.IsUndefined() || lv.IsNull())) {
    if (!lv.IsObject()) return Fail(env, "spawn: landlock must be an object");
    Napi::Object l = lv.As<Napi::Object>();
    g->landlock = true;
    if (!ReadPathRules(env, l, "rules", true, &g->landlockRules) ||
        !ReadPathRules(env, l, "treeRules", false, &g->landlockTreeRules) ||
        !ReadPathRules(env, l, "childRules", false, &g->landlockChildRules))
      return false;
    g->landlockDenyTcp = ReadBool(l, "denyTcp");
    g->landlockScopeSignals = ReadBool(l, "scopeSignals");
    g->landlockScopeAbstractUnix = ReadBool(l, "scopeAbstractUnix");
  }
  return true;
}
#endif

// request.isolation: see docs/native-api.md. Linux only (elsewhere a TypeError).
bool ReadIsolation(Napi::Env env, const Napi::Value& v, confine::IsolationRequest* iso) {
  if (v.IsUndefined() || v.IsNull()) return true;
#ifndef __linux__
  return Fail(env, "spawn: isolation is Linux-only");
#endif
  if (!v.IsObject()) return Fail(env, "spawn: isolation must be an object");
  Napi::Object o = v.As<Napi::Object>();
  iso->active = true;
  iso->user = ReadBool(o, "user");
  iso->mount = ReadBool(o, "mount");
  iso->pid = ReadBool(o, "pid");
  iso->net = ReadBool(o, "net");
  iso->ipc = ReadBool(o, "ipc");
  iso->uts = ReadBool(o, "uts");
  iso->newRoot = ReadBool(o, "newRoot");
  iso->loopback = ReadBool(o, "loopback");
  iso->spares = ReadBool(o, "spares");
  Napi::Value host = Own(o, "hostname");
  iso->hasHostname = !(host.IsUndefined() || host.IsNull());
  if (iso->hasHostname && !ReadString(env, o, "hostname", &iso->hostname)) return false;
  int64_t n;
  if (!ReadInt(env, o, "netnsFd", -1, &n)) return false;
  iso->netnsFd = static_cast<int>(n);
  if (!ReadInt(env, o, "initFd", -1, &n)) return false;
  iso->initFd = static_cast<int>(n);
  if (!ReadInt(env, o, "statusFd", -1, &n)) return false;
  iso->statusFd = static_cast<int>(n);
  Napi::Value mounts = Own(o, "mounts");
  if (mounts.IsUndefined() || mounts.IsNull()) return true;
  if (!mounts.IsArray()) return Fail(env, "spawn: isolation.mounts must be an array");
  Napi::Array a = mounts.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsObject()) return Fail(env, "spawn: isolation.mounts must hold objects");
    Napi::Object m = e.As<Napi::Object>();
    confine::MountRequest mr;
    std::string kind;
    if (!ReadString(env, m, "kind", &kind)) return false;
    if (!ReadString(env, m, "target", &mr.target)) return false;
    if (kind == "bind") {
      mr.kind = confine::MountRequest::Kind::kBind;
      if (!ReadString(env, m, "source", &mr.source)) return false;
      mr.readOnly = ReadBool(m, "readOnly");
    } else if (kind == "tmpfs") {
      mr.kind = confine::MountRequest::Kind::kTmpfs;
      Napi::Value data = Own(m, "data");
      if (!(data.IsUndefined() || data.IsNull()) && !ReadString(env, m, "data", &mr.data))
        return false;
    } else if (kind == "proc") {
      mr.kind = confine::MountRequest::Kind::kProc;
      mr.readOnlyKernelFiles = ReadBool(m, "readOnlyKernelFiles");
    } else if (kind == "dev") {
      mr.kind = confine::MountRequest::Kind::kDev;
    } else if (kind == "symlink") {
      mr.kind = confine::MountRequest::Kind::kSymlink;
      if (!ReadString(env, m, "linkTo", &mr.linkTo)) return false;
    } else {
      return Fail(env, "spawn: isolation.mounts[].kind must be bind, tmpfs, proc, dev or symlink");
    }
    iso->mounts.push_back(std::move(mr));
  }
  return true;
}

#ifdef __linux__
// A prepared request (prepare()): the isolation request and the guards, read from JS once and kept
// native for every spawn that passes the handle. A spawn copies them into its own SpawnRequest
// (the plan and the child write only into that copy's memory), so nothing of one spawn reaches
// another, and spawns may run while other spawns of the same handle are under way. Owned by the
// External's JS object: freed by its finalizer, in the environment (worker) that made it.
struct PreparedRequest {
  confine::IsolationRequest isolation;
  confine::GuardRequest guards;
};

// Marks an External as a PreparedRequest of this addon: any other value is refused, not cast.
constexpr napi_type_tag kPreparedTag = {0x636f6e66696e6570ULL, 0x7265706172656431ULL};

// request.prepared: the handle, with this spawn's isolation fds (initFd, statusFd, netnsFd) beside
// it. The request then holds none of the keys the handle stands for.
bool ReadPrepared(Napi::Env env, const Napi::Object& o, const Napi::Value& v,
                  confine::SpawnRequest* req) {
  if (!v.IsExternal() || !v.As<Napi::External<PreparedRequest>>().CheckTypeTag(&kPreparedTag))
    return Fail(env, "spawn: prepared must be a handle from prepare()");
  for (const char* key : {"capabilities", "seccomp", "landlock", "isolation"}) {
    Napi::Value other = Own(o, key);
    if (!(other.IsUndefined() || other.IsNull()))
      return Fail(env, std::string("spawn: ") + key + " comes from the prepared handle");
  }
  const PreparedRequest* p = v.As<Napi::External<PreparedRequest>>().Data();
  req->guards = p->guards;
  req->isolation = p->isolation;
  int64_t n;
  if (!ReadInt(env, o, "initFd", -1, &n)) return false;
  req->isolation.initFd = static_cast<int>(n);
  if (!ReadInt(env, o, "statusFd", -1, &n)) return false;
  req->isolation.statusFd = static_cast<int>(n);
  if (!ReadInt(env, o, "netnsFd", -1, &n)) return false;
  req->isolation.netnsFd = static_cast<int>(n);
  return true;
}
#endif

bool ReadRequest(Napi::Env env, const Napi::Object& o, confine::SpawnRequest* req) {
  if (!ReadString(env, o, "file", &req->file)) return false;
  if (!ReadStrings(env, o, "argv", &req->argv)) return false;
  if (!ReadStrings(env, o, "envp", &req->envp)) return false;
  Napi::Value cwd = Own(o, "cwd");
  req->hasCwd = !(cwd.IsUndefined() || cwd.IsNull());
  if (req->hasCwd && !ReadString(env, o, "cwd", &req->cwd)) return false;
  if (!ReadInt(env, o, "uid", -1, &req->uid)) return false;
  if (!ReadInt(env, o, "gid", -1, &req->gid)) return false;

  std::vector<int64_t> ints;
  if (!ReadInts(env, o, "groups", &req->hasGroups, &ints)) return false;
  for (int64_t g : ints) {
    if (g < 0 || g > 0xfffffffe) return Fail(env, "spawn: groups must hold gids");
    req->groups.push_back(static_cast<uint32_t>(g));
  }

  Napi::Value rl = Own(o, "rlimits");
  if (!(rl.IsUndefined() || rl.IsNull())) {
    if (!rl.IsArray()) return Fail(env, "spawn: rlimits must be an array");
    Napi::Array a = rl.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      if (!e.IsArray() || e.As<Napi::Array>().Length() != 2)
        return Fail(env, "spawn: rlimits must hold [resource, value] pairs");
      Napi::Array pair = e.As<Napi::Array>();
      Napi::Value name = OwnAt(pair, 0), value = OwnAt(pair, 1);
      int resource;
      if (!name.IsString() ||
          !confine::RlimitFromName(name.As<Napi::String>().Utf8Value(), &resource))
        return Fail(env, "spawn: unknown rlimit resource");
      if (!value.IsNumber()) return Fail(env, "spawn: rlimit value must be a number");
      req->rlimits.emplace_back(resource, value.As<Napi::Number>().Int64Value());
    }
  }

  bool present;
  ints.clear();
  if (!ReadInts(env, o, "stdio", &present, &ints)) return false;
  for (int64_t fd : ints) req->stdio.push_back(static_cast<int>(fd));
  ints.clear();
  if (!ReadInts(env, o, "cgroupProcsFds", &present, &ints)) return false;
  for (int64_t fd : ints) req->cgroupProcsFds.push_back(static_cast<int>(fd));

  int64_t n;
  if (!ReadInt(env, o, "pdeathsig", 0, &n)) return false;
  req->pdeathsig = static_cast<int>(n);
  if (!ReadInt(env, o, "cgroupFd", -1, &n)) return false;
  req->cgroupFd = static_cast<int>(n);
  req->setsid = ReadBool(o, "setsid");
  req->noNewPrivs = ReadBool(o, "noNewPrivs");
  req->resetOomScoreAdj = ReadBool(o, "resetOomScoreAdj");
  req->forceNoPidfd = ReadBool(o, "forceNoPidfd");
  req->forceNoCloseRange = ReadBool(o, "forceNoCloseRange");
  req->forceNoClearSighand = ReadBool(o, "forceNoClearSighand");
  req->startAsync = ReadBool(o, "startAsync");
#ifdef __linux__
  Napi::Value prepared = Own(o, "prepared");
  if (!(prepared.IsUndefined() || prepared.IsNull())) return ReadPrepared(env, o, prepared, req);
  if (!ReadGuards(env, o, &req->guards)) return false;
#else
  for (const char* key : {"capabilities", "seccomp", "landlock"}) {
    Napi::Value v = Own(o, key);
    if (!(v.IsUndefined() || v.IsNull()))
      return Fail(env, std::string("spawn: ") + key + " is Linux only");
  }
#endif
  return ReadIsolation(env, Own(o, "isolation"), &req->isolation);
}

// ---- exit watching: per-environment bookkeeping ----

// A thread watch (no pidfd): what its waiter thread and the environment share. Until the
// environment ends the thread reports through its thread-safe function; node deletes that with
// the environment (a worker thread's end), so from then on the thread must not touch it. A
// worker's tree whose exit never reaches JS (the environment gone before the report was queued,
// or before the queued report could run JS) has its task cgroup directories removed by the
// addon, whichever side sees that.
struct ThreadWatchState {
  std::mutex lock;  // held by the thread while it reports, and by the teardown that ends that
  pid_t pid;
  bool inWorker;  // the environment is a worker's: once it ends, its JS never releases the cgroup
  bool envGone = false;
  bool reported = false;  // the thread has queued its report and released the thread-safe function
  std::vector<std::string> cgroupDirs;  // taken (emptied) by whoever removes them
  ThreadWatchState(pid_t p, bool worker, std::vector<std::string> dirs)
      : pid(p), inWorker(worker), cgroupDirs(std::move(dirs)) {}
};

// Loop watches not yet finished, so that environment teardown (a worker thread ending) can
// close their handles: a worker's loop must be empty when it closes; each with its tree's task
// cgroup directories (none without a cgroup, none on the initial thread, which never needs
// them), removed by the addon once the leader is reaped when the worker ended first. Start
// watches by the pid of their child (watchRef() applies to both). Thread watches, for the
// teardown to end their reports (each drops itself when its report runs on the loop).
struct AddonData {
  std::map<confine::LoopWatch*, std::vector<std::string>> watches;
  std::map<confine::StartWatch*, pid_t> startWatches;
  std::set<std::shared_ptr<ThreadWatchState>> threadWatches;
  // Whether this instance's thread is the process's initial one (where environ is the one
  // process.env reads): taken once at load, as an instance never changes threads (it was a
  // gettid and a getpid on every spawn's environGeneration()).
  bool onInitialThread = false;
};

AddonData* DataOf(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

// ---- a worker that ended before its trees: their reap and their task cgroups ----

#ifdef __linux__
// The task cgroup directories of a tree whose leader is reaped and whose worker has ended (its
// JS, which would release them, never runs again): removed now, or by the process's reaper
// thread once the descendants still in them have left (tried again each second, a directory
// without members given up after CgroupDirs::kMaxMemberlessRounds). Should the reaper not start
// (no thread, no epoll or eventfd: the process is out of resources), a busy directory is left
// to cleanupOrphans(): there is no caller to report it to.
void RemoveEmptiedCgroup(confine::CgroupDirs dirs) {
  if (dirs.RemoveEmpty()) return;
  const char* syscall = nullptr;
  confine::RetryOnReaper([dirs = std::move(dirs)]() mutable { return dirs.RemoveEmpty(); },
                         &syscall);
}
#endif

// The same, from the directories' paths: their identity is taken now (the leader is reaped,
// and no release has run).
void RemoveCgroupOfEndedWorker(const std::vector<std::string>& cgroupDirs) {
#ifdef __linux__
  if (!cgroupDirs.empty()) RemoveEmptiedCgroup(confine::CgroupDirs(cgroupDirs));
#else
  (void)cgroupDirs;
#endif
}

// A running child of a worker that has ended: reaped by the process's one reaper (a pidfd in
// its epoll set), then its tree's task cgroup directories removed once empty (tried again each
// second while descendants of the leader are still in them). Without pidfd_open (Linux before
// 5.3) or elsewhere (macOS) a waiter thread of its own reaps it, and hands what is left of the
// directories to the reaper. Should neither start (out of threads or descriptors), the child is
// a zombie until the process ends and its cgroup is left to cleanupOrphans(): the worker that
// could be told is gone.
void ReapForEndedWorker(pid_t pid, const std::vector<std::string>& cgroupDirs) {
  const char* syscall = nullptr;
#ifdef __linux__
  // The directories' identity is taken now, while the leader still runs in them.
  confine::CgroupDirs dirs(cgroupDirs);
  if (confine::HandToReaper(
          pid, [dirs]() mutable { return dirs.RemoveEmpty(); }, &syscall) == 0)
    return;
  confine::WatchExitOnThread(
      pid, [dirs = std::move(dirs)](const confine::ExitStatus&) { RemoveEmptiedCgroup(dirs); },
      &syscall);
#else
  (void)cgroupDirs;
  confine::WatchExitOnThread(
      pid, [](const confine::ExitStatus&) {}, &syscall);
#endif
}

// A thread watch's tree whose report will never reach JS: its task cgroup directories, when the
// environment was a worker's, taken from the state (under its lock, held by the caller).
std::vector<std::string> TakeDirsOfEndedWorker(ThreadWatchState* state) {
  std::vector<std::string> dirs;
  if (state->inWorker) dirs.swap(state->cgroupDirs);
  return dirs;
}

Napi::Object ExitObject(Napi::Env env, const confine::ExitStatus& st) {
  Napi::Object o = Napi::Object::New(env);
  bool normal = st.err == 0 && !st.signaled;
  o.Set("exitCode", normal ? Napi::Value(Napi::Number::New(env, st.exitCode)) : env.Null());
  o.Set("signal", Napi::Number::New(env, st.termSignal));
  o.Set("userMicros", Napi::Number::New(env, static_cast<double>(st.userMicros)));
  o.Set("systemMicros", Napi::Number::New(env, static_cast<double>(st.systemMicros)));
  o.Set("maxRssBytes", Napi::Number::New(env, static_cast<double>(st.maxRssBytes)));
  if (st.err != 0) o.Set("errno", Napi::String::New(env, NameOfErrno(st.err)));
  if (st.pidfdOurs >= 0) o.Set("pidfdOurs", Napi::Boolean::New(env, st.pidfdOurs == 1));
  return o;
}

// The callback of a loop watch, called from a uv callback: enter JS with MakeCallback (async
// context, microtasks), and hand an exception it throws to 'uncaughtException'.
struct LoopCallback {
  napi_env env;
  Napi::FunctionReference fn;
  Napi::AsyncContext context;
  confine::LoopWatch* watch = nullptr;

  LoopCallback(Napi::Env e, Napi::Function f, const char* name = "confine:exit")
      : env(e), fn(Napi::Persistent(f)), context(e, name) {}
};

// Whether JavaScript can still run in env. Node ends an environment (worker.terminate(), a
// worker's or the process's end) by forbidding calls into JS, then still turns its loop to close
// the handles (Environment::CleanupHandles runs uv_run before the env cleanup hooks, so before
// Teardown): a loop watch whose fd is readable by then runs its callback with JS forbidden, and
// terminate() from another thread forbids it at any moment, also in the middle of a callback.
// Each napi call that may run JS then fails (node's NAPI_PREAMBLE: napi_pending_exception with
// no exception pending for node-api 8, napi_cannot_run_js from node-api 10), and node-addon-api
// makes a failed call a fatal error of the whole process unless
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (binding.gyp). napi has no query for it:
// napi_strict_equals has that preamble and runs no JS. Call it inside a HandleScope.
bool CanRunJs(napi_env env) {
  napi_value undefined;
  bool same = false;
  return napi_get_undefined(env, &undefined) == napi_ok &&
         napi_strict_equals(env, undefined, undefined, &same) == napi_ok;
}

// After a loop callback's call into JS: an exception it threw goes to 'uncaughtException'. One
// pending because JS stopped meanwhile (terminate() during the callback: V8 reports the
// termination as a caught exception) is dropped: no JS is left to give it to.
void ReportCallbackException(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value e;
  if (napi_get_and_clear_last_exception(env, &e) != napi_ok) return;
  if (CanRunJs(env)) napi_fatal_exception(env, e);
}

// cb(arg) from a uv callback, with plain napi calls: a failure (JS forbidden meanwhile) is a
// status here, never a fatal error.
void MakeLoopCallback(const LoopCallback& cb, napi_value arg) {
  napi_value global;
  napi_value result;
  if (napi_get_global(cb.env, &global) == napi_ok)
    napi_make_callback(cb.env, cb.context, global, cb.fn.Value(), 1, &arg, &result);
  ReportCallbackException(cb.env);
}

void CallExit(const std::shared_ptr<LoopCallback>& cb, const confine::ExitStatus& st) {
  Napi::Env env(cb->env);
  std::vector<std::string> cgroupDirs;
  bool inWorker = false;
  if (AddonData* data = DataOf(env)) {
    auto it = data->watches.find(cb->watch);
    if (it != data->watches.end()) {
      cgroupDirs.swap(it->second);
      data->watches.erase(it);
    }
    inWorker = !data->onInitialThread;
  }
  Napi::HandleScope scope(env);
  // The environment is going away: the child is reaped (its pid is not left a zombie), JS is not
  // told; the callback's references go with cb. A worker's JS will never release the tree's
  // cgroup either: the addon removes it.
  if (!CanRunJs(env)) {
    if (inWorker) RemoveCgroupOfEndedWorker(cgroupDirs);
    return;
  }
  MakeLoopCallback(*cb, ExitObject(env, st));
  // terminate() landed during the callback: the release it began (asynchronous) never finishes.
  // Removing what it already removed or pooled is harmless: rmdir finds it gone, or busy.
  if (inWorker && !CanRunJs(env)) RemoveCgroupOfEndedWorker(cgroupDirs);
}

// ---- the functions ----

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  confine::Features f = confine::ProbeFeatures();
  Napi::Object features = Napi::Object::New(env);
  features.Set("pidfd", f.pidfd);
  features.Set("clone3", f.clone3);
  features.Set("cloneIntoCgroup", f.cloneIntoCgroup);
  features.Set("closeRange", f.closeRange);
  features.Set("pidfdSendSignal", f.pidfdSendSignal);
  features.Set("kqueue", f.kqueue);
  features.Set("seccompFilter", f.seccompFilter);
  features.Set("landlockAbi", f.landlockAbi);
  features.Set("capLastCap", f.capLastCap);
  Napi::Object names = Napi::Object::New(env);
  std::vector<std::string> syscalls, capabilities;
#ifdef __linux__
  syscalls = confine::seccomp::SyscallNames();
  capabilities = confine::caps::Names();
#endif
  auto array = [env](const std::vector<std::string>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  };
  names.Set("syscalls", array(syscalls));
  names.Set("capabilities", array(capabilities));
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", CONFINE_ADDON_VERSION);
  out.Set("platform", confine::PlatformName());
  out.Set("features", features);
  out.Set("names", names);
  return out;
}

#ifdef __linux__
Napi::Object ProbePathObject(Napi::Env env, const confine::IsolationProbe::Path& p) {
  Napi::Object o = Napi::Object::New(env);
  auto put = [&](const char* key, int err) {
    if (err < 0) o.Set(key, env.Undefined());
    else o.Set(key, err == 0 ? env.Null() : Napi::Value(Napi::String::New(env, NameOfErrno(err))));
  };
  put("clone", p.clone);
  put("user", p.user);
  put("mount", p.mount);
  put("pid", p.pid);
  put("net", p.net);
  put("ipc", p.ipc);
  put("uts", p.uts);
  put("uidMap", p.uidMap);
  put("mounts", p.mounts);
  put("proc", p.proc);
  put("loopback", p.loopback);
  return o;
}

// dumpable() → this process's PR_GET_DUMPABLE (0, 1, 2): what a spawn must leave as it found.
Napi::Value Dumpable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int r = confine::Dumpable();
  if (r < 0) ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "dumpable", nullptr, "prctl", -r);
  return Napi::Number::New(env, r);
}

// probeIsolation() → { direct, userns, mountSetattr, openat2 }: each step's errno name, null
// when it worked, undefined when it was not tried. Starts two short-lived children.
Napi::Value ProbeIsolation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  confine::IsolationProbe p = confine::ProbeIsolation();
  Napi::Object out = Napi::Object::New(env);
  out.Set("direct", p.directTried ? Napi::Value(ProbePathObject(env, p.direct)) : env.Null());
  out.Set("userns", ProbePathObject(env, p.userns));
  out.Set("mountSetattr", p.mountSetattr);
  out.Set("openat2", p.openat2);
  return out;
}

Napi::Value SignalTree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Fail(env, "signalTree: expected (pid, pidfd, sig)");
    return env.Undefined();
  }
  int err = confine::SendTreeSignal(info[0].As<Napi::Number>().Int32Value(),
                                    info[1].As<Napi::Number>().Int32Value(),
                                    info[2].As<Napi::Number>().Int32Value());
  if (err == 0) return env.Null();
  return Napi::String::New(env, NameOfErrno(err));
}
#endif

Napi::Value EnvironGeneration(const Napi::CallbackInfo& info) {
  if (!DataOf(info.Env())->onInitialThread) return info.Env().Null();
  return Napi::Number::New(info.Env(), static_cast<double>(confine::EnvironGeneration()));
}

Napi::Value FileStamp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Fail(env, "fileStamp: expected an array of paths");
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<std::string> paths;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsString()) {
      Fail(env, "fileStamp: expected an array of paths");
      return env.Undefined();
    }
    paths.push_back(v.As<Napi::String>().Utf8Value());
  }
  return Napi::String::New(env, confine::FilesStamp(paths));
}

Napi::Value ExecutableFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    Fail(env, "executableFile: expected a path");
    return env.Undefined();
  }
  int err = confine::ExecutableFile(info[0].As<Napi::String>().Utf8Value());
  if (err == 0) return env.Null();
  return Napi::String::New(env, NameOfErrno(err));
}

Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  confine::LookupResult r;
  if (info[0].IsNumber()) {
    int64_t uid = info[0].As<Napi::Number>().Int64Value();
    if (uid < 0 || uid > 0xfffffffe) return env.Null();
    r = confine::LookupUserById(static_cast<uint32_t>(uid));
  } else if (info[0].IsString()) {
    r = confine::LookupUserByName(info[0].As<Napi::String>().Utf8Value());
  } else {
    Fail(env, "lookupUser: expected a user name or a uid");
    return env.Undefined();
  }
  if (r.err != 0) {
    ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "lookupUser", nullptr, r.syscall, r.err);
    return env.Undefined();
  }
  if (!r.found) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("uid", r.user.uid);
  o.Set("gid", r.user.gid);
  o.Set("name", r.user.name);
  o.Set("home", r.user.home);
  o.Set("shell", r.user.shell);
  Napi::Array groups = Napi::Array::New(env, r.user.groups.size());
  for (size_t i = 0; i < r.user.groups.size(); i++)
    groups.Set(static_cast<uint32_t>(i), r.user.groups[i]);
  o.Set("groups", groups);
  return o;
}

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  bool nonBlockingWrite =
      info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
  confine::FdResult r = confine::MakePipe(fds, nonBlockingWrite);
  if (r.err != 0) {
    ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "pipe", nullptr, r.syscall, r.err);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

Napi::Value OpenDevNull(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Fail(env, "openDevNull: flags must be a number");
    return env.Undefined();
  }
  int fd;
  confine::FdResult r = confine::OpenDevNull(info[0].As<Napi::Number>().Int32Value(), &fd);
  if (r.err != 0) {
    ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "openDevNull", nullptr, r.syscall, r.err);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Fail(env, "close: fd must be a number");
    return env.Undefined();
  }
  confine::FdResult r = confine::CloseFd(info[0].As<Napi::Number>().Int32Value());
  if (r.err != 0) ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "close", nullptr, r.syscall, r.err);
  return env.Undefined();
}

// Each item an fd (read from offset 0, the fd stays open) or a path (opened, read, closed): the
// texts, null where the file or its cgroup is gone (ENOENT, ENODEV, ENOTDIR). Any other error
// throws. One call for the several small files a cgroup is read from at a tree's exit: each
// made by one show(), so a short read is taken as its end (ReadFromStart's shortReadEnds). A
// directory reads as its link count (LinkCountText()).
Napi::Value ReadFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Fail(env, "readFiles: expected an array of fds and paths");
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, list.Length());
  std::string text;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    confine::FdResult r;
    std::string path;
    if (v.IsNumber()) {
      r = confine::ReadFromStart(v.As<Napi::Number>().Int32Value(), &text, true);
    } else if (v.IsString()) {
      path = v.As<Napi::String>().Utf8Value();
      if (path.find('\0') != std::string::npos) {
        Fail(env, "readFiles: a path contains a NUL byte");
        return env.Undefined();
      }
      r = confine::ReadSmallFile(path.c_str(), &text, true);
    } else {
      Fail(env, "readFiles: expected an array of fds and paths");
      return env.Undefined();
    }
    if (r.err == ENOENT || r.err == ENODEV || r.err == ENOTDIR) {
      out.Set(i, env.Null());
      continue;
    }
    if (r.err != 0) {
      ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "readFiles " + (path.empty() ? "fd" : path),
                       nullptr, r.syscall, r.err);
      return env.Undefined();
    }
    out.Set(i, Napi::String::New(env, text));
  }
  return out;
}

// "dev:ino" of each fd, null for one not open: the JS side checks that an fd it keeps open
// across turns of the event loop is still the file it opened (user code that closes an fd
// number twice can hand that number to another file meanwhile).
Napi::Value FdIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Fail(env, "fdIdentity: expected an array of fds");
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, list.Length());
  std::string id;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) {
      Fail(env, "fdIdentity: expected an array of fds");
      return env.Undefined();
    }
    confine::FdResult r = confine::FdIdentity(v.As<Napi::Number>().Int32Value(), &id);
    if (r.err != 0) out.Set(i, env.Null());
    else out.Set(i, Napi::String::New(env, id));
  }
  return out;
}

// Held fds read with their identity check, in one call (a reused cgroup's files at each tree's
// release): for each fd, false when it no longer refers to the file ids[i] ("dev:ino", as
// fdIdentity() gave it when it was opened) names, or is not open: user code that closed that
// number may have a file of its own there, which is neither read nor ours to close. Else its
// text from offset 0, or null where the file or its cgroup is gone (as readFiles()). For files
// made by one show() (a cgroup's keyed and single-value files): a short read is taken as the end.
// A directory's text is its link count ("nlink <n>", LinkCountText()) from that same fstat: no
// read at all (a reused cgroup's check that no sub-cgroup was made in it).
Napi::Value ReadHeldFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray() ||
      info[0].As<Napi::Array>().Length() != info[1].As<Napi::Array>().Length()) {
    Fail(env, "readHeldFiles: expected an array of fds and one of their identities");
    return env.Undefined();
  }
  Napi::Array fds = info[0].As<Napi::Array>();
  Napi::Array ids = info[1].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, fds.Length());
  std::string text;
  for (uint32_t i = 0; i < fds.Length(); i++) {
    Napi::Value v = fds.Get(i);
    Napi::Value want = ids.Get(i);
    if (!v.IsNumber() || !want.IsString()) {
      Fail(env, "readHeldFiles: expected an array of fds and one of their identities");
      return env.Undefined();
    }
    int fd = v.As<Napi::Number>().Int32Value();
    confine::FdId id = confine::IdOf(fd);
    if (!id.known || confine::IdText(id) != want.As<Napi::String>().Utf8Value()) {
      out.Set(i, Napi::Boolean::New(env, false));
      continue;
    }
    if (id.dir) {
      out.Set(i, Napi::String::New(env, confine::LinkCountText(id.links)));
      continue;
    }
    // A cgroup's held files are each made by one show(): a short read is their end.
    confine::FdResult r = confine::ReadFromStart(fd, &text, true);
    if (r.err == ENOENT || r.err == ENODEV || r.err == ENOTDIR) {
      out.Set(i, env.Null());
      continue;
    }
    if (r.err != 0) {
      ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "readHeldFiles fd", nullptr, r.syscall, r.err);
      return env.Undefined();
    }
    out.Set(i, Napi::String::New(env, text));
  }
  return out;
}

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    Fail(env, "spawn: expected a request object");
    return env.Undefined();
  }
  confine::SpawnRequest req;
  if (!ReadRequest(env, info[0].As<Napi::Object>(), &req)) return env.Undefined();
  confine::SpawnResult r = confine::Spawn(req);
  if (!r.ok) {
    std::string what = "spawn " + req.file;
    if (r.detail) what += " (" + std::string(r.detail) + ")";
    ThrowSystemError(env, "ERR_CONFINE_SPAWN", what, r.stage, r.syscall, r.err);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", r.pid);
  out.Set("pidfd", r.pidfd);
  out.Set("errorFd", r.errFd);
  return out;
}

#ifdef __linux__
// prepare({ isolation, capabilities, seccomp, landlock }): those keys of a spawn request, read
// and checked once, as a handle spawn() takes in their place (request.prepared). lib/ keeps one
// per distinct request (lib/isolation/prepared.ts).
Napi::Value Prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    Fail(env, "prepare: expected a request object");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  auto p = std::make_unique<PreparedRequest>();
  if (!ReadGuards(env, o, &p->guards) || !ReadIsolation(env, Own(o, "isolation"), &p->isolation))
    return env.Undefined();
  // The fds are each spawn's own: a handle holds none.
  p->isolation.initFd = p->isolation.statusFd = p->isolation.netnsFd = -1;
  auto handle = Napi::External<PreparedRequest>::New(
      env, p.release(), [](Napi::Env, PreparedRequest* data) { delete data; });
  handle.TypeTag(&kPreparedTag);
  return handle;
}
#endif

// watchStart(pid, errorFd, file, callback): the outcome of a startAsync spawn, on the loop.
// callback(null) once the program has exec'd, callback(error) with the error spawn() would have
// thrown once a stage failed (the child exits 127; the exit watch reaps it). Takes errorFd over.
Napi::Value WatchStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // The fd is ours from here on, also when we refuse: closed on every early return.
  int fd = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : -1;
  if (!info[0].IsNumber() || fd < 0 || !info[2].IsString() || !info[3].IsFunction()) {
    if (fd >= 0) confine::CloseFd(fd);
    Fail(env, "watchStart: expected (pid, errorFd, file, callback)");
    return env.Undefined();
  }
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  std::string what = "spawn " + info[2].As<Napi::String>().Utf8Value();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    confine::CloseFd(fd);
    Napi::Error::New(env, "watchStart: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto cb = std::make_shared<LoopCallback>(env, info[3].As<Napi::Function>(), "confine:start");
  auto watch = std::make_shared<confine::StartWatch*>(nullptr);
  const char* syscall = nullptr;
  int err = confine::WatchStartOnLoop(
      loop, fd,
      [cb, watch, what](const confine::StartOutcome& out) {
        Napi::Env env(cb->env);
        if (AddonData* data = DataOf(env)) data->startWatches.erase(*watch);
        Napi::HandleScope scope(env);
        if (!CanRunJs(env)) return;  // going away (CallExit): the pipe is closed, JS not told
        // Unobservable: a supervisor-side failure (the caller kills the child), not the child's.
        const char* code = out.unobservable ? "ERR_CONFINE_SYSTEM" : "ERR_CONFINE_SPAWN";
        Napi::Value arg =
            out.failed
                ? Napi::Value(SystemError(env, code, what, out.stage, out.syscall, out.err).Value())
                : env.Null();
        MakeLoopCallback(*cb, arg);
      },
      &syscall, watch.get());
  if (err != 0) {
    ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "watchStart", nullptr, syscall, err);
    return env.Undefined();
  }
  DataOf(env)->startWatches[*watch] = pid;
  return env.Undefined();
}

// A tree's task cgroup directories (watch's 4th argument, watchCgroup()'s 2nd): absolute paths;
// undefined or null: none. Only a worker's environment keeps them (its JS may end before the
// tree): on the initial thread, whose JS outlives its trees, nothing is read (every spawn's path).
bool ReadCgroupDirs(Napi::Env env, const Napi::Value& v, const char* what,
                    std::vector<std::string>* out) {
  if (v.IsUndefined() || v.IsNull() || DataOf(env)->onInitialThread) return true;
  auto fail = [&]() {
    return Fail(env, std::string(what) + ": cgroupDirs must be an array of absolute paths");
  };
  if (!v.IsArray()) return fail();
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) return fail();
    std::string dir = e.As<Napi::String>().Utf8Value();
    if (dir.empty() || dir[0] != '/' || dir.find('\0') != std::string::npos) return fail();
    out->push_back(std::move(dir));
  }
  return true;
}

// The call data of a thread watch's report: the status, and the watch's state.
struct ThreadExit {
  confine::ExitStatus status;
  std::shared_ptr<ThreadWatchState> state;
};

// A thread watch's report, on the loop thread (the thread-safe function's call). The watch
// drops itself from the environment's (no walk of them all per watch()), once its thread is done
// with the thread-safe function: until then the teardown must still be able to stop it. A report
// that never runs (queued as the environment ended) is the teardown's (Teardown).
void ReportThreadExit(Napi::Env env, Napi::Function js, ThreadExit* data) {
  std::unique_ptr<ThreadExit> owned(data);
  ThreadWatchState* state = owned->state.get();
  if (env != nullptr && !js.IsEmpty()) {
    // Taken once: the thread releases the thread-safe function right after queueing this.
    { std::lock_guard<std::mutex> released(state->lock); }
    if (AddonData* d = DataOf(env)) d->threadWatches.erase(owned->state);
    Napi::HandleScope scope(env);
    if (CanRunJs(env)) {
      // Plain napi, as MakeLoopCallback.
      napi_value arg = ExitObject(env, owned->status);
      napi_value global;
      napi_value result;
      if (napi_get_global(env, &global) == napi_ok)
        napi_call_function(env, global, js, 1, &arg, &result);
      ReportCallbackException(env);
      // terminate() during the callback, as in CallExit.
      if (CanRunJs(env) || !state->inWorker) return;
    }
  }
  // The environment is going away (its loop turned once more): JS is not told, and a worker's
  // never releases the tree's cgroup.
  std::vector<std::string> dirs;
  {
    std::lock_guard<std::mutex> hold(state->lock);
    dirs = TakeDirsOfEndedWorker(state);
  }
  RemoveCgroupOfEndedWorker(dirs);
}

Napi::Value Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction()) {
    Fail(env, "watch: expected (pid, pidfd, callback, cgroupDirs?)");
    return env.Undefined();
  }
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int pidfd = info[1].As<Napi::Number>().Int32Value();
  Napi::Function fn = info[2].As<Napi::Function>();
  if (pid <= 0) {
    Fail(env, "watch: pid must be positive");
    return env.Undefined();
  }
  std::vector<std::string> cgroupDirs;
  if (!ReadCgroupDirs(env, info[3], "watch", &cgroupDirs)) return env.Undefined();

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "watch: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto cb = std::make_shared<LoopCallback>(env, fn);
  const char* syscall = nullptr;
  confine::LoopWatch* watch = nullptr;
  int err = confine::WatchExitOnLoop(
      loop, pid, pidfd, [cb](const confine::ExitStatus& st) { CallExit(cb, st); }, &syscall,
      &watch);
  if (err == 0) {
    cb->watch = watch;
    DataOf(env)->watches.emplace(watch, std::move(cgroupDirs));
    return env.Undefined();
  }
  if (err != ENOTSUP) {
    ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "watch", nullptr, syscall, err);
    return env.Undefined();
  }

  // No pidfd: a waiter thread reports through a thread-safe function, which also keeps the
  // loop alive until it is released. It does so under the watch's lock, and only while the
  // environment lives: node deletes the function with it (a worker's end), whoever holds it.
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(env, fn, "confine:exit", 0, 1);
  AddonData* data = DataOf(env);
  auto state =
      std::make_shared<ThreadWatchState>(pid, !data->onInitialThread, std::move(cgroupDirs));
  err = confine::WatchExitOnThread(
      pid,
      [tsfn, state](const confine::ExitStatus& st) mutable {
        std::vector<std::string> dirs;
        {
          std::lock_guard<std::mutex> hold(state->lock);
          if (!state->envGone) {
            auto* exit = new ThreadExit{st, state};
            napi_status s = tsfn.BlockingCall(exit, ReportThreadExit);
            tsfn.Release();
            state->reported = true;
            if (s == napi_ok) return;  // ReportThreadExit has the rest
            delete exit;  // napi_closing: node's cleanup of the function ran, the teardown is next
          }
          dirs = TakeDirsOfEndedWorker(state.get());
        }
        RemoveCgroupOfEndedWorker(dirs);  // what is still busy goes on to the reaper
      },
      &syscall);
  if (err != 0) {
    tsfn.Release();
    ThrowSystemError(env, "ERR_CONFINE_SYSTEM", "watch", nullptr, syscall, err);
    return env.Undefined();
  }
  data->threadWatches.insert(state);
  return env.Undefined();
}

// watchCgroup(pid, cgroupDirs): the task cgroup directories of the watched tree of `pid` are
// these now (update() joined more hierarchies). false when no watch of `pid` is left.
Napi::Value WatchCgroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> dirs;
  if (!info[0].IsNumber()) {
    Fail(env, "watchCgroup: expected (pid, cgroupDirs)");
    return env.Undefined();
  }
  if (!ReadCgroupDirs(env, info[1], "watchCgroup", &dirs)) return env.Undefined();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  AddonData* data = DataOf(env);
  for (auto& [w, watchDirs] : data->watches) {
    if (confine::LoopWatchPid(w) != pid) continue;
    watchDirs = std::move(dirs);
    return Napi::Boolean::New(env, true);
  }
  for (const auto& state : data->threadWatches) {
    if (state->pid != pid) continue;
    std::lock_guard<std::mutex> hold(state->lock);
    if (state->reported) continue;  // an earlier child of that pid, reaped
    state->cgroupDirs = std::move(dirs);
    return Napi::Boolean::New(env, true);
  }
  return Napi::Boolean::New(env, false);
}

Napi::Value Signal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Fail(env, "signal: expected (pid, pidfd, sig)");
    return env.Undefined();
  }
  int err = confine::SendSignal(info[0].As<Napi::Number>().Int32Value(),
                                info[1].As<Napi::Number>().Int32Value(),
                                info[2].As<Napi::Number>().Int32Value());
  if (err == 0) return env.Null();
  return Napi::String::New(env, NameOfErrno(err));
}

Napi::Value KillGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber()) {
    Fail(env, "killGroup: expected (pgid, sig)");
    return env.Undefined();
  }
  int err = confine::KillGroup(info[0].As<Napi::Number>().Int32Value(),
                               info[1].As<Napi::Number>().Int32Value());
  if (err == 0) return env.Null();
  return Napi::String::New(env, NameOfErrno(err));
}

// watchRef(pid, ref): whether the loop watch of `pid` (and its start watch, while there is one)
// keeps the event loop alive. false when
// there is no such watch (the child has exited, or it is watched by a thread: Linux without
// pidfd, where the loop is held until the exit).
Napi::Value WatchRef(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsBoolean()) {
    Fail(env, "watchRef: expected (pid, ref)");
    return env.Undefined();
  }
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool ref = info[1].As<Napi::Boolean>().Value();
  for (const auto& [w, watchedPid] : DataOf(env)->startWatches) {
    if (watchedPid == pid) confine::RefStartWatch(w, ref);
  }
  for (const auto& [w, dirs] : DataOf(env)->watches) {
    if (confine::LoopWatchPid(w) != pid) continue;
    confine::RefLoopWatch(w, ref);
    return Napi::Boolean::New(env, true);
  }
  return Napi::Boolean::New(env, false);
}

// pidfdHeld(pid, fd): whether fd is still the pidfd given to the loop watch of pid (exact on every
// kernel: see pidfd::StillOurs); true where there is no such watch to check against (a thread
// watch has no pidfd; after the exit the caller holds none).
Napi::Value PidfdHeld(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber()) {
    Fail(env, "pidfdHeld: expected (pid, fd)");
    return env.Undefined();
  }
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  for (const auto& [w, dirs] : DataOf(env)->watches) {
    if (confine::LoopWatchPid(w) == pid)
      return Napi::Boolean::New(env, confine::LoopWatchHolds(w, fd));
  }
  return Napi::Boolean::New(env, fd >= 0);
}

// The environment is going away (a worker thread ends, terminate() included; the process
// exits): the loop handles close, no JS is told anything. A worker's children that still run
// keep running (reattach is the default: the process, their supervisor, lives on), but nothing
// of that worker would ever reap them or release their task cgroups: each goes to the process's
// reaper (ReapForEndedWorker), so it is not left a zombie, nor its cgroup, until the process
// ends. The initial thread's environment ends only with the process: its children are
// reparented and reaped by their new parent, and the JS exit hook has released what it could.
// process.exit() in a worker, or on the main thread with workers running, ends those workers
// right before exit(): their children are handed over all the same, to a reaper that exit()
// stops mid-way (its state is never destroyed: reaper.cc); what it has not removed by then is
// left to cleanupOrphans().
void Teardown(void* arg) {
  auto* data = static_cast<AddonData*>(arg);
  for (auto& [w, dirs] : data->watches) {
    pid_t pid = confine::LoopWatchPid(w);
    confine::CancelLoopWatch(w);
    if (!data->onInitialThread) ReapForEndedWorker(pid, dirs);
  }
  data->watches.clear();
  // Thread watches go on waiting, from now on without their thread-safe function (node deletes
  // it with the environment): a worker's then remove their tree's cgroup after the reap. One
  // whose report is queued but has not run (still listed here) never runs now: node's cleanup
  // hook of the function (added after this one, so run before it) has closed its handle, and
  // the queue it empties is not handed to ReportThreadExit (node-addon-api's CallJS calls
  // nothing with env null). Its tree is reaped: its directories are removed here.
  for (const auto& state : data->threadWatches) {
    std::vector<std::string> dirs;
    {
      std::lock_guard<std::mutex> hold(state->lock);
      state->envGone = true;
      if (state->reported) dirs = TakeDirsOfEndedWorker(state.get());
    }
    RemoveCgroupOfEndedWorker(dirs);
  }
  data->threadWatches.clear();
  for (const auto& [w, pid] : data->startWatches) confine::CancelStartWatch(w);
  data->startWatches.clear();
}

}  // namespace
#endif  // CONFINE_POSIX

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifdef CONFINE_POSIX
  auto* data = new AddonData;
  data->onInitialThread = confine::OnInitialThread();
  env.SetInstanceData<AddonData>(data);
  napi_add_env_cleanup_hook(env, Teardown, data);
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser, "lookupUser"));
  exports.Set("fileStamp", Napi::Function::New(env, FileStamp, "fileStamp"));
  exports.Set("executableFile", Napi::Function::New(env, ExecutableFile, "executableFile"));
  exports.Set("environGeneration",
              Napi::Function::New(env, EnvironGeneration, "environGeneration"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("openDevNull", Napi::Function::New(env, OpenDevNull, "openDevNull"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("readFiles", Napi::Function::New(env, ReadFiles, "readFiles"));
  exports.Set("fdIdentity", Napi::Function::New(env, FdIdentity, "fdIdentity"));
  exports.Set("readHeldFiles", Napi::Function::New(env, ReadHeldFiles, "readHeldFiles"));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("watch", Napi::Function::New(env, Watch, "watch"));
  exports.Set("watchStart", Napi::Function::New(env, WatchStart, "watchStart"));
  exports.Set("watchRef", Napi::Function::New(env, WatchRef, "watchRef"));
  exports.Set("watchCgroup", Napi::Function::New(env, WatchCgroup, "watchCgroup"));
  exports.Set("pidfdHeld", Napi::Function::New(env, PidfdHeld, "pidfdHeld"));
  exports.Set("signal", Napi::Function::New(env, Signal, "signal"));
  exports.Set("killGroup", Napi::Function::New(env, KillGroup, "killGroup"));
#endif
#ifdef __linux__
  exports.Set("probeIsolation", Napi::Function::New(env, ProbeIsolation, "probeIsolation"));
  exports.Set("prepare", Napi::Function::New(env, Prepare, "prepare"));
  exports.Set("dumpable", Napi::Function::New(env, Dumpable, "dumpable"));
  exports.Set("signalTree", Napi::Function::New(env, SignalTree, "signalTree"));
#endif
  return exports;
}

NODE_API_MODULE(confine, Init)
