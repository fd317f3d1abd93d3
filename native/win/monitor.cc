// Children: a registry of (process, job) pairs by id, one I/O completion port for every job,
// one thread that reads it, and exit detection from the process handle itself.
//
// Exit path: RegisterWaitForSingleObject on the process handle (thread pool, no thread per
// child) posts a marker packet to the completion port; the port thread then collects the exit
// code and the job's accounting and calls the exit handler. Because a port hands out packets in
// FIFO order, a memory-limit message the kernel queued before the process died is handled (and
// oomKilled recorded) before the exit is reported. Job messages are not guaranteed to arrive, so
// nothing depends on them except oomKilled / cpuTimeExceeded and the event stream.
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "core.h"

namespace confine {
namespace win {

struct Child {
  uint32_t id = 0;
  DWORD pid = 0;
  HANDLE process = nullptr;  // may be null for a job reopened without a pid
  HANDLE job = nullptr;
  HANDLE wait = nullptr;
  std::wstring jobName;
  std::mutex mu;  // guards everything below
  LimitState limits;
  bool oomKilled = false, cpuTimeExceeded = false, terminated = false, exited = false;
  ExitInfo exit;
  ExitHandler onExit;
  EventHandler onEvent;
  std::vector<JobEvent> pendingEvents;  // until an event handler is set (bounded)
  ~Child() {
    if (wait) UnregisterWaitEx(wait, nullptr);  // non-blocking; the callback only uses the id
    if (job) CloseHandle(job);                  // KILL_ON_JOB_CLOSE acts here
    if (process) CloseHandle(process);
  }
};

namespace {
constexpr DWORD kExitMarker = 0x7FFF0001;  // our own packet; job messages are 1..13
constexpr size_t kMaxPendingEvents = 1024;

// Never destroyed: the port thread and thread-pool callbacks may run while the process exits.
std::mutex* g_mu = new std::mutex;
auto* g_children = new std::unordered_map<uint32_t, std::shared_ptr<Child>>;
std::atomic<uint32_t> g_nextId{1};
HANDLE g_port = nullptr;
INIT_ONCE g_portOnce = INIT_ONCE_STATIC_INIT;
DWORD g_portError = 0;

std::shared_ptr<Child> Find(uint32_t id) {
  std::lock_guard<std::mutex> lock(*g_mu);
  auto it = g_children->find(id);
  return it == g_children->end() ? nullptr : it->second;
}

bool FindOrFail(uint32_t id, const char* stage, std::shared_ptr<Child>* out, Error* err) {
  *out = Find(id);
  if (*out) return true;
  *err = MakeError(stage, "", ERROR_INVALID_HANDLE, "no such child (closed or never opened)");
  return false;
}

const char* MessageName(DWORD msg) {
  switch (msg) {
    case JOB_OBJECT_MSG_END_OF_JOB_TIME: return "endOfJobTime";
    case JOB_OBJECT_MSG_END_OF_PROCESS_TIME: return "endOfProcessTime";
    case JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT: return "activeProcessLimit";
    case JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO: return "activeProcessZero";
    case JOB_OBJECT_MSG_NEW_PROCESS: return "newProcess";
    case JOB_OBJECT_MSG_EXIT_PROCESS: return "exitProcess";
    case JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS: return "abnormalExitProcess";
    case JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT: return "processMemoryLimit";
    case JOB_OBJECT_MSG_JOB_MEMORY_LIMIT: return "jobMemoryLimit";
    case 11: return "notificationLimit";
    case 12: return "jobCycleTimeLimit";
    case 13: return "siloTerminated";
  }
  return "unknown";
}

void DeliverEvent(Child* c, JobEvent ev) {
  EventHandler fn;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->onEvent) fn = c->onEvent;
    else if (c->pendingEvents.size() < kMaxPendingEvents) c->pendingEvents.push_back(ev);
  }
  if (fn) fn(ev);
}

void HandleJobMessage(Child* c, DWORD msg, DWORD pid) {
  if (msg == JOB_OBJECT_MSG_JOB_MEMORY_LIMIT || msg == JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT) {
    // A job memory limit makes allocations fail instead of killing. Match Linux (the cgroup OOM
    // killer): stop the whole tree and report oomKilled.
    {
      std::lock_guard<std::mutex> lock(c->mu);
      c->oomKilled = true;
    }
    TerminateJobObject(c->job, kOomExitCode);
  } else if (msg == JOB_OBJECT_MSG_END_OF_PROCESS_TIME) {
    std::lock_guard<std::mutex> lock(c->mu);
    c->cpuTimeExceeded = true;
  }
  JobEvent ev;
  ev.type = MessageName(msg);
  ev.pid = pid;
  DeliverEvent(c, std::move(ev));
}

void HandleExit(Child* c) {
  ExitInfo info;
  DWORD code = 0;
  if (c->process && GetExitCodeProcess(c->process, &code)) info.exitCode = code;
  QueryJobStats(c->job, &info.stats, nullptr);
  ExitHandler fn;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    info.oomKilled = c->oomKilled;
    info.cpuTimeExceeded = c->cpuTimeExceeded;
    info.terminated = c->terminated;
    c->exit = info;
    c->exited = true;
    fn = std::move(c->onExit);
    c->onExit = nullptr;
  }
  if (fn) fn(info);
}

DWORD WINAPI PortThread(LPVOID) {
  for (;;) {
    DWORD msg = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED ov = nullptr;
    if (!GetQueuedCompletionStatus(g_port, &msg, &key, &ov, INFINITE)) {
      if (ov == nullptr && GetLastError() == ERROR_ABANDONED_WAIT_0) return 0;  // port closed
      continue;
    }
    std::shared_ptr<Child> c = Find(static_cast<uint32_t>(key));
    if (!c) continue;
    if (msg == kExitMarker) HandleExit(c.get());
    else HandleJobMessage(c.get(), msg, static_cast<DWORD>(reinterpret_cast<ULONG_PTR>(ov)));
  }
}

BOOL CALLBACK InitPort(PINIT_ONCE, PVOID, PVOID*) {
  g_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (!g_port) {
    g_portError = GetLastError();
    return TRUE;
  }
  HANDLE t = CreateThread(nullptr, 64 * 1024, PortThread, nullptr,
                          STACK_SIZE_PARAM_IS_A_RESERVATION, nullptr);
  if (!t) {
    g_portError = GetLastError();
    CloseHandle(g_port);
    g_port = nullptr;
    return TRUE;
  }
  CloseHandle(t);
  return TRUE;
}

bool EnsurePort(Error* err) {
  InitOnceExecuteOnce(&g_portOnce, InitPort, nullptr, nullptr);
  if (g_port) return true;
  *err =
      MakeError("job", "CreateIoCompletionPort", g_portError ? g_portError : ERROR_INVALID_HANDLE);
  return false;
}

VOID CALLBACK OnProcessSignaled(PVOID ctx, BOOLEAN) {
  PostQueuedCompletionStatus(g_port, kExitMarker, reinterpret_cast<ULONG_PTR>(ctx), nullptr);
}
}  // namespace

uint32_t NewChildId() { return g_nextId.fetch_add(1); }

bool AssociatePort(HANDLE job, uint32_t id, Error* err) {
  if (!EnsurePort(err)) return false;
  JOBOBJECT_ASSOCIATE_COMPLETION_PORT acp;
  acp.CompletionKey = reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(id));
  acp.CompletionPort = g_port;
  if (!SetInformationJobObject(job, JobObjectAssociateCompletionPortInformation, &acp,
                               sizeof acp)) {
    *err = LastError("job", "SetInformationJobObject");
    return false;
  }
  return true;
}

bool AdoptChild(uint32_t id, HANDLE process, HANDLE job, DWORD pid, const std::wstring& name,
                const LimitState& limits, bool associatePort, Error* err) {
  auto c = std::make_shared<Child>();
  c->id = id;
  c->pid = pid;
  c->process = process;  // owned from here on, even on failure
  c->job = job;
  c->jobName = name;
  c->limits = limits;
  if (associatePort && !AssociatePort(job, id, err)) return false;
  if (!EnsurePort(err)) return false;
  if (process) {
    HANDLE wait = nullptr;
    if (!RegisterWaitForSingleObject(&wait, process, OnProcessSignaled,
                                     reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(id)), INFINITE,
                                     WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
      *err = LastError("watch", "RegisterWaitForSingleObject");
      return false;
    }
    c->wait = wait;
  }
  std::lock_guard<std::mutex> lock(*g_mu);
  (*g_children)[id] = std::move(c);
  return true;
}

bool WatchExit(uint32_t id, ExitHandler onExit, Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "watch", &c, err)) return false;
  if (!c->process) {
    *err = MakeError("watch", "", ERROR_INVALID_HANDLE,
                     "this job was opened without a process to watch");
    return false;
  }
  ExitInfo info;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (!c->exited) {
      c->onExit = std::move(onExit);
      return true;
    }
    info = c->exit;
  }
  onExit(info);
  return true;
}

bool WatchEvents(uint32_t id, EventHandler onEvent, Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "watch", &c, err)) return false;
  std::vector<JobEvent> pending;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->onEvent = onEvent;
    pending.swap(c->pendingEvents);
  }
  for (auto& ev : pending) onEvent(ev);
  return true;
}

void Close(uint32_t id) {
  std::shared_ptr<Child> c;
  {
    std::lock_guard<std::mutex> lock(*g_mu);
    auto it = g_children->find(id);
    if (it == g_children->end()) return;
    c = std::move(it->second);
    g_children->erase(it);
  }
  std::lock_guard<std::mutex> lock(c->mu);
  c->onExit = nullptr;
  c->onEvent = nullptr;
  c->pendingEvents.clear();
  // handles close when the last reference goes (here, or on the port thread right after)
}

bool Terminate(uint32_t id, uint32_t exitCode, Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "terminate", &c, err)) return false;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    if (!c->exited) c->terminated = true;
  }
  if (!TerminateJobObject(c->job, exitCode)) {
    *err = LastError("terminate", "TerminateJobObject");
    return false;
  }
  return true;
}

bool Stats(uint32_t id, JobStats* out, Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "stats", &c, err)) return false;
  return QueryJobStats(c->job, out, err);
}

bool UpdateLimits(uint32_t id, const LimitUpdate& u, LimitState* state, LimitResult* res,
                  Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "limits", &c, err)) return false;
  std::lock_guard<std::mutex> lock(c->mu);
  *res = ApplyLimits(c->job, &c->limits, u);
  *state = c->limits;
  return true;
}

bool InJob(uint32_t id, DWORD pid, bool* in, Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "inJob", &c, err)) return false;
  // Wine's IsProcessInJob wants PROCESS_QUERY_INFORMATION; Windows takes the limited right too.
  Handle p(OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, pid));
  if (!p.valid()) p.reset(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
  if (!p.valid()) {
    *err = LastError("inJob", "OpenProcess");
    return false;
  }
  BOOL b = FALSE;
  if (!IsProcessInJob(p.get(), c->job, &b)) {
    *err = LastError("inJob", "IsProcessInJob");
    return false;
  }
  *in = b != FALSE;
  return true;
}

bool Describe(uint32_t id, ChildInfo* out, Error* err) {
  std::shared_ptr<Child> c;
  if (!FindOrFail(id, "describe", &c, err)) return false;
  std::lock_guard<std::mutex> lock(c->mu);
  out->pid = c->pid;
  out->jobName = c->jobName;
  out->hasProcess = c->process != nullptr;
  out->exited = c->exited;
  out->limits = c->limits;
  return true;
}

// Used by console.cc: the job handle of a child, kept alive by the returned reference.
std::shared_ptr<Child> FindChildForConsole(uint32_t id) { return Find(id); }
HANDLE ChildJob(const std::shared_ptr<Child>& c) { return c->job; }
DWORD ChildPid(const std::shared_ptr<Child>& c) { return c->pid; }

uint64_t ProcessStartMicros(HANDLE process) {
  FILETIME created, exited, kernel, user;
  if (!GetProcessTimes(process, &created, &exited, &kernel, &user)) return 0;
  ULARGE_INTEGER t;
  t.LowPart = created.dwLowDateTime;
  t.HighPart = created.dwHighDateTime;
  const uint64_t kEpoch = 116444736000000000ull;  // 1601 → 1970 in 100 ns
  return t.QuadPart > kEpoch ? (t.QuadPart - kEpoch) / 10 : 0;
}

bool OpenJob(const std::wstring& name, DWORD pid, OpenResult* out, Error* err) {
  Handle job(OpenJobObjectW(JOB_OBJECT_QUERY | JOB_OBJECT_TERMINATE | JOB_OBJECT_SET_ATTRIBUTES |
                                JOB_OBJECT_ASSIGN_PROCESS,
                            FALSE, name.c_str()));
  if (!job.valid()) {
    *err = LastError("open", "OpenJobObjectW");
    return false;
  }
  Handle process;
  if (pid) {
    process.reset(OpenProcess(SYNCHRONIZE | PROCESS_QUERY_INFORMATION, FALSE, pid));
    if (!process.valid())
      process.reset(OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
    if (!process.valid()) {
      *err = LastError("identity", "OpenProcess");
      return false;
    }
    BOOL in = FALSE;
    if (!IsProcessInJob(process.get(), job.get(), &in)) {
      *err = LastError("identity", "IsProcessInJob");
      return false;
    }
    if (!in) {
      *err = MakeError("identity", "IsProcessInJob", ERROR_NOT_FOUND,
                       "the process with this pid is not in the job (pid reused?)");
      return false;
    }
    out->alive = WaitForSingleObject(process.get(), 0) == WAIT_TIMEOUT;
    out->startTimeMicros = ProcessStartMicros(process.get());
  }
  LimitState limits;
  ReadLimits(job.get(), &limits);
  uint32_t id = NewChildId();
  Error portErr;
  out->events = AssociatePort(job.get(), id, &portErr);  // may be refused: then no events
  HANDLE jh = job.release(), ph = process.release();
  if (!AdoptChild(id, ph, jh, pid, name, limits, false, err)) return false;  // handles closed
  out->id = id;
  out->pid = pid;
  return true;
}

}  // namespace win
}  // namespace confine
