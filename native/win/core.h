// Windows core of confine: plain C++ over Win32, no napi types (native/addon_win.cc is the glue).
// Every function reports failure through Error (stage, syscall, Win32 code) and never throws.
#pragma once
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

// Older SDK targets (node-gyp may set _WIN32_WINNT below Windows 10) hide these; the values are
// fixed by the Windows ABI and the features are detected at run time anyway.
#ifndef PROC_THREAD_ATTRIBUTE_JOB_LIST
#define PROC_THREAD_ATTRIBUTE_JOB_LIST ProcThreadAttributeValue(13, FALSE, TRUE, FALSE)
#endif
#ifndef PROC_THREAD_ATTRIBUTE_HANDLE_LIST
#define PROC_THREAD_ATTRIBUTE_HANDLE_LIST ProcThreadAttributeValue(2, FALSE, TRUE, FALSE)
#endif

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace confine {
namespace win {

// ---- errors ---------------------------------------------------------------------------------
struct Error {
  std::string stage;    // step of the spawn (or operation) that failed, e.g. "create", "assign"
  std::string syscall;  // the failing Win32 call, e.g. "CreateProcessW"
  DWORD code = 0;       // Win32 error code (GetLastError)
  std::string message;  // optional extra text
  bool failed() const { return !syscall.empty() || code != 0 || !message.empty(); }
};
Error LastError(const char* stage, const char* syscall);  // captures GetLastError()
Error MakeError(const char* stage, const char* syscall, DWORD code, std::string message = {});
std::string ErrorName(DWORD code);      // "ERROR_FILE_NOT_FOUND", or "WIN32_<n>" when unnamed
const char* PosixErrno(DWORD code);     // closest errno name ("ENOENT"), or nullptr
std::string ErrorText(const Error& e);  // human-readable one-liner

// ---- strings --------------------------------------------------------------------------------
std::wstring Widen(const std::string& utf8);
std::string Narrow(const std::wstring& utf16);

// ---- an owned HANDLE (INVALID_HANDLE_VALUE and NULL both mean "none") ----------------------
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : h_(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Handle() { reset(); }
  HANDLE get() const { return h_; }
  bool valid() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE release() {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }
  void reset(HANDLE h = nullptr) {
    if (valid()) CloseHandle(h_);
    h_ = h;
  }

 private:
  HANDLE h_ = nullptr;
};

// ---- argv (argv.cc): MSVC runtime / CommandLineToArgvW quoting rules ------------------------
std::wstring QuoteArg(const std::wstring& arg);            // for argv[1..]
std::wstring QuoteProgramName(const std::wstring& argv0);  // argv[0] rules (no escapes)
std::wstring BuildCommandLine(const std::vector<std::wstring>& argv);
bool IsBatchFile(const std::wstring& file);

// ---- environment (env.cc) -------------------------------------------------------------------
// "K=V" strings → a CREATE_UNICODE_ENVIRONMENT block sorted by name, case-insensitively, as
// Windows expects; duplicate names (case-insensitive) keep the first; entries without a name
// (no '=' after the first character) are skipped and counted in *skipped.
std::vector<wchar_t> BuildEnvironmentBlock(const std::vector<std::wstring>& env, size_t* skipped);

// ---- limits (job.cc) ------------------------------------------------------------------------
template <typename T>
struct Field {  // tri-state update: unchanged / cleared / set to value
  enum Op { kUnchanged, kClear, kSet } op = kUnchanged;
  T value{};
};
struct LimitUpdate {
  Field<uint64_t> memoryBytes;         // JobMemoryLimit (whole tree)
  Field<uint64_t> processMemoryBytes;  // ProcessMemoryLimit (each process)
  Field<uint32_t> maxProcesses;        // ActiveProcessLimit
  Field<double> cpu;                   // cores → CPU rate hard cap
  Field<uint32_t> cpuWeight;           // 1..10000 → weight 1..9
  Field<double> cpuSeconds;            // PerProcessUserTimeLimit
  Field<bool> killOnClose;             // JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
};
struct LimitState {  // what the job carries now (our own record of it)
  uint64_t memoryBytes = 0, processMemoryBytes = 0;
  uint32_t maxProcesses = 0;
  double cpu = 0;
  uint32_t cpuWeight = 0;
  double cpuSeconds = 0;
  bool killOnClose = false;
  // what was written to the job, in Windows units (0 = none)
  uint32_t cpuRate = 0;        // 1..10000 (hard cap), 0 when not set
  uint32_t cpuRateWeight = 0;  // 1..9, 0 when not set
};
struct LimitResult {
  std::map<std::string, Error> errors;  // per limit key that could not be applied
  std::vector<std::string> notes;       // e.g. "cpuWeight: not applied, cpu hard cap wins"
};
uint32_t CpuRateFor(double cores);       // cores / logical CPUs * 10000, clamped 1..10000
uint32_t CpuWeightFor(uint32_t weight);  // 1..10000 (cgroup scale, 100 = default) → 1..9
void MergeLimits(LimitState* state, const LimitUpdate& u);
LimitResult ApplyLimits(HANDLE job, LimitState* state, const LimitUpdate& u);
bool ReadLimits(HANDLE job, LimitState* state);  // for a reopened job

struct JobStats {
  uint32_t activeProcesses = 0, totalProcesses = 0, terminatedProcesses = 0;
  uint64_t userMicros = 0, systemMicros = 0;
  uint64_t peakMemoryBytes = 0, peakProcessMemoryBytes = 0;
  uint64_t memoryBytes = 0;  // private bytes summed over the job's processes now
  uint64_t readOps = 0, writeOps = 0, readBytes = 0, writeBytes = 0;
  std::vector<DWORD> pids;
};
bool QueryJobStats(HANDLE job, JobStats* out, Error* err);
bool JobProcessIds(HANDLE job, std::vector<DWORD>* pids, Error* err);
std::wstring NewJobName(uint32_t serial);  // Local\confine-<pid>-<serial>-<random>

// ---- token (token.cc) -----------------------------------------------------------------------
enum class Integrity { kUnchanged, kMedium, kLow };
// A restricted primary token derived from this process's own: all privileges but
// SeChangeNotifyPrivilege removed (DISABLE_MAX_PRIVILEGE), Administrators and the other
// privileged groups deny-only, and optionally a lower integrity level.
bool MakeRestrictedToken(Integrity integrity, Handle* token, Error* err);
struct TokenGroup {
  std::string sid;
  std::string name;
  bool enabled, denyOnly, integrity, logon;
};
struct TokenInfo {
  std::string user, integrity;  // integrity: "untrusted|low|medium|high|system|<sid>"
  bool restricted = false, elevated = false;
  std::vector<TokenGroup> groups;
  std::vector<std::string> privileges;
};
bool QueryTokenInfo(HANDLE process, TokenInfo* out, Error* err);

// ---- spawn (spawn.cc) -----------------------------------------------------------------------
struct StdioSpec {
  enum Kind { kIgnore, kHandle, kPipe } kind = kIgnore;
  HANDLE handle = nullptr;  // kHandle: the supervisor's handle (duplicated for the child)
  std::wstring path;        // kPipe: \\.\pipe\name served by the supervisor, opened as client
};
enum class ConsoleMode { kInherit, kNew, kNone };
struct SpawnRequest {
  std::wstring file;               // absolute path of the program
  std::vector<std::wstring> argv;  // argv[0] included
  bool verbatim = false;           // argv[1..] joined with spaces, no quoting
  std::vector<std::wstring> env;   // "K=V"
  bool hasEnv = false;             // false: inherit the supervisor's environment
  std::wstring cwd;                // empty: the supervisor's
  StdioSpec stdio[3];
  LimitUpdate limits;
  bool strictLimits = false;  // a limit that cannot be applied fails the spawn
  bool restricted = false;
  Integrity integrity = Integrity::kUnchanged;
  bool windowsHide = false;
  ConsoleMode console = ConsoleMode::kInherit;
  bool useJobList = true;  // PROC_THREAD_ATTRIBUTE_JOB_LIST when the system has it
};
struct SpawnResult {
  uint32_t id = 0;  // handle for every later call
  DWORD pid = 0;
  std::wstring jobName;
  uint64_t startTimeMicros = 0;  // process creation time, µs since the Unix epoch
  bool jobList = false;          // created inside the job by PROC_THREAD_ATTRIBUTE_JOB_LIST
  bool restricted = false;
  LimitState limits;
  LimitResult limitResult;
  std::string token;  // "CreateProcessAsUserW" or "CreateProcessW"
};
bool Spawn(const SpawnRequest& req, SpawnResult* out, Error* err);

// ---- children: registry, completion port, exit watching (monitor.cc) ------------------------
struct ExitInfo {
  uint32_t exitCode = 0;
  bool oomKilled = false;        // a job/process memory limit was hit: the tree was terminated
  bool cpuTimeExceeded = false;  // PerProcessUserTimeLimit ended a process of the tree
  bool terminated = false;       // Terminate() was called before the exit
  JobStats stats;
};
struct JobEvent {
  std::string type;  // newProcess, exitProcess, abnormalExitProcess, ...
  DWORD pid = 0;
};
using ExitHandler = std::function<void(const ExitInfo&)>;
using EventHandler = std::function<void(const JobEvent&)>;

struct Child;                                  // opaque; lives in the registry until Close(id)
constexpr uint32_t kOomExitCode = 0xC0000017;  // STATUS_NO_MEMORY, the exit code of an OOM kill

// Registers a new child (job and optional process handles are taken over).
uint32_t NewChildId();
bool AdoptChild(uint32_t id, HANDLE process, HANDLE job, DWORD pid, const std::wstring& name,
                const LimitState& limits, bool associatePort, Error* err);
bool AssociatePort(HANDLE job, uint32_t id, Error* err);
bool WatchExit(uint32_t id, ExitHandler onExit, Error* err);  // called at most once; async-safe
bool WatchEvents(uint32_t id, EventHandler onEvent, Error* err);
void Close(uint32_t id);
bool Terminate(uint32_t id, uint32_t exitCode, Error* err);
bool Stats(uint32_t id, JobStats* out, Error* err);
bool UpdateLimits(uint32_t id, const LimitUpdate& u, LimitState* state, LimitResult* res,
                  Error* err);
bool InJob(uint32_t id, DWORD pid, bool* in, Error* err);
struct ChildInfo {
  DWORD pid;
  std::wstring jobName;
  bool hasProcess, exited;
  LimitState limits;
};
bool Describe(uint32_t id, ChildInfo* out, Error* err);
// Reopens a named job (after a supervisor restart). With pid != 0 the process is opened too and
// must be in the job (identity proof: a reused pid cannot be in our named job).
struct OpenResult {
  uint32_t id = 0;
  DWORD pid = 0;
  bool alive = false;
  bool events = false;
  uint64_t startTimeMicros = 0;
};
bool OpenJob(const std::wstring& name, DWORD pid, OpenResult* out, Error* err);
uint64_t ProcessStartMicros(HANDLE process);

// ---- graceful stop (console.cc) -------------------------------------------------------------
struct CtrlBreakResult {
  bool delivered = false;
  std::string reason;
};  // reason when not
bool CtrlBreak(uint32_t id, CtrlBreakResult* out, Error* err);
struct CloseWindowsResult {
  uint32_t windows = 0, processes = 0;
};
bool CloseWindows(uint32_t id, CloseWindowsResult* out, Error* err);

// ---- probe (probe.cc) -----------------------------------------------------------------------
struct Probe {
  std::string wine;            // wine_get_version(), empty on Windows
  std::string windowsVersion;  // RtlGetVersion "10.0.19045"
  uint32_t processors = 0;
  bool jobList = false;          // UpdateProcThreadAttribute accepts PROC_THREAD_ATTRIBUTE_JOB_LIST
  bool cpuRateControl = false;   // a job accepts a CPU rate hard cap
  bool restrictedToken = false;  // CreateRestrictedToken works for this process
  bool console = false;          // this process has a console (CTRL_BREAK can be delivered)
  bool nestedJobs = false;       // Windows 8+ (version number: cannot be measured without a child)
};
void RunProbe(Probe* out);
bool IsWine();
uint32_t HandleCount();

}  // namespace win
}  // namespace confine
