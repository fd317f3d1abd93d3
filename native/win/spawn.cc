// Spawn: the child is created suspended, inside a new Job Object (PROC_THREAD_ATTRIBUTE_JOB_LIST
// where the system has it, else AssignProcessToJobObject while still suspended), inherits only
// its three stdio handles (PROC_THREAD_ATTRIBUTE_HANDLE_LIST), and is resumed only once it is
// in the job and watched. Every handle is closed on every path (RAII).
#include "core.h"

namespace confine {
namespace win {

namespace {
// The attribute list, freed on every path.
class AttributeList {
 public:
  ~AttributeList() {
    if (list_) DeleteProcThreadAttributeList(list_);
  }
  bool Init(DWORD count, Error* err) {
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(nullptr, count, 0, &size);
    buf_.assign(size, 0);
    auto* l = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(buf_.data());
    if (!InitializeProcThreadAttributeList(l, count, 0, &size)) {
      *err = LastError("attributes", "InitializeProcThreadAttributeList");
      return false;
    }
    list_ = l;
    return true;
  }
  LPPROC_THREAD_ATTRIBUTE_LIST get() const { return list_; }

 private:
  std::vector<unsigned char> buf_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

// An inheritable copy of `h` for the child; the supervisor's own handle keeps its flags.
bool InheritableCopy(HANDLE h, Handle* out, Error* err) {
  HANDLE dup = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, TRUE,
                       DUPLICATE_SAME_ACCESS)) {
    *err = LastError("stdio", "DuplicateHandle");
    return false;
  }
  out->reset(dup);
  return true;
}

bool OpenStdio(const StdioSpec& spec, int fd, Handle* out, Error* err) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, nullptr, TRUE};
  switch (spec.kind) {
    case StdioSpec::kIgnore: {
      HANDLE h = CreateFileW(L"NUL", fd == 0 ? GENERIC_READ : GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                             FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, nullptr);
      if (h == INVALID_HANDLE_VALUE) {
        *err = LastError("stdio", "CreateFileW");
        return false;
      }
      out->reset(h);
      return true;
    }
    case StdioSpec::kHandle:
      if (spec.handle == nullptr || spec.handle == INVALID_HANDLE_VALUE) return true;  // none
      return InheritableCopy(spec.handle, out, err);
    case StdioSpec::kPipe: {
      // The client end of a named pipe the supervisor serves (net.Server.listen(path)).
      DWORD access =
          fd == 0 ? GENERIC_READ | FILE_WRITE_ATTRIBUTES : GENERIC_WRITE | FILE_READ_ATTRIBUTES;
      HANDLE h = INVALID_HANDLE_VALUE;
      for (int attempt = 0; attempt < 20; ++attempt) {
        h = CreateFileW(spec.path.c_str(), access, 0, &sa, OPEN_EXISTING, 0, nullptr);
        if (h != INVALID_HANDLE_VALUE || GetLastError() != ERROR_PIPE_BUSY) break;
        WaitNamedPipeW(spec.path.c_str(), 100);
      }
      if (h == INVALID_HANDLE_VALUE) {
        *err = LastError("stdio", "CreateFileW");
        return false;
      }
      out->reset(h);
      // The name is public: make sure the server at the other end is this process.
      ULONG server = 0;
      if (GetNamedPipeServerProcessId(h, &server)) {
        if (server != GetCurrentProcessId()) {
          *err = MakeError("stdio", "GetNamedPipeServerProcessId", ERROR_ACCESS_DENIED,
                           "the pipe's server is another process");
          return false;
        }
      } else if (GetLastError() != ERROR_CALL_NOT_IMPLEMENTED &&
                 GetLastError() != ERROR_NOT_SUPPORTED) {
        *err = LastError("stdio", "GetNamedPipeServerProcessId");
        return false;
      }
      return true;
    }
  }
  return true;
}

bool CreateNamedJob(uint32_t id, Handle* job, std::wstring* name, Error* err) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::wstring n = NewJobName(id);
    HANDLE h = CreateJobObjectW(nullptr, n.c_str());
    DWORD gle = GetLastError();
    if (!h) {
      *err = MakeError("job", "CreateJobObjectW", gle);
      return false;
    }
    if (gle == ERROR_ALREADY_EXISTS) {  // someone else's: never reuse
      CloseHandle(h);
      continue;
    }
    job->reset(h);
    *name = std::move(n);
    return true;
  }
  *err = MakeError("job", "CreateJobObjectW", ERROR_ALREADY_EXISTS);
  return false;
}
}  // namespace

bool Spawn(const SpawnRequest& req, SpawnResult* out, Error* err) {
  if (req.file.empty() || req.argv.empty()) {
    *err = MakeError("argv", "", ERROR_INVALID_PARAMETER, "file and argv[0] are required");
    return false;
  }
  if (IsBatchFile(req.file)) {
    // CreateProcess would run cmd.exe with the command line unescaped for cmd's own rules.
    *err = MakeError(
        "argv", "", ERROR_INVALID_PARAMETER,
        "batch files (.bat, .cmd) must be run through cmd.exe /d /s /c with cmd's quoting");
    return false;
  }
  std::wstring cmdline;
  if (req.verbatim) {
    cmdline = QuoteProgramName(req.argv[0]);
    for (size_t i = 1; i < req.argv.size(); ++i) cmdline += L" " + req.argv[i];
  } else {
    cmdline = BuildCommandLine(req.argv);
  }
  if (cmdline.size() >= 32767) {
    *err = MakeError("argv", "", ERROR_FILENAME_EXCED_RANGE,
                     "command line longer than 32767 characters");
    return false;
  }
  std::vector<wchar_t> envBlock;
  if (req.hasEnv) envBlock = BuildEnvironmentBlock(req.env, nullptr);
  if (!req.cwd.empty()) {
    DWORD attr = GetFileAttributesW(req.cwd.c_str());
    if (attr == INVALID_FILE_ATTRIBUTES) {
      *err = LastError("chdir", "GetFileAttributesW");
      return false;
    }
    if (!(attr & FILE_ATTRIBUTE_DIRECTORY)) {
      *err = MakeError("chdir", "GetFileAttributesW", ERROR_DIRECTORY);
      return false;
    }
  }

  Handle stdio[3];
  for (int i = 0; i < 3; ++i)
    if (!OpenStdio(req.stdio[i], i, &stdio[i], err)) return false;

  // The job first, limits and completion port included, so the child is born under them.
  uint32_t id = NewChildId();
  Handle job;
  std::wstring jobName;
  if (!CreateNamedJob(id, &job, &jobName, err)) return false;
  LimitState limits;
  LimitUpdate lu = req.limits;
  lu.killOnClose.op = Field<bool>::kSet;
  lu.killOnClose.value =
      req.limits.killOnClose.op == Field<bool>::kSet && req.limits.killOnClose.value;
  LimitResult lr = ApplyLimits(job.get(), &limits, lu);
  if (req.strictLimits && !lr.errors.empty()) {
    *err = lr.errors.begin()->second;
    err->message = "limit " + lr.errors.begin()->first + " could not be applied";
    return false;
  }
  if (lr.errors.count("killOnClose")) {  // never run a tree that would outlive us by mistake
    *err = lr.errors["killOnClose"];
    return false;
  }
  if (!AssociatePort(job.get(), id, err)) return false;

  Handle token;
  if (req.restricted && !MakeRestrictedToken(req.integrity, &token, err)) return false;

  // Exactly the stdio handles are inherited: no other inheritable handle of the supervisor.
  std::vector<HANDLE> inherit;
  for (auto& h : stdio)
    if (h.valid()) inherit.push_back(h.get());
  HANDLE jobs[1] = {job.get()};
  bool jobList = false;
  AttributeList attrs;
  if (!attrs.Init(2, err)) return false;
  if (!inherit.empty() &&
      !UpdateProcThreadAttribute(attrs.get(), 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit.data(),
                                 inherit.size() * sizeof(HANDLE), nullptr, nullptr)) {
    *err = LastError("attributes", "UpdateProcThreadAttribute");
    return false;
  }
  if (req.useJobList && UpdateProcThreadAttribute(attrs.get(), 0, PROC_THREAD_ATTRIBUTE_JOB_LIST,
                                                  jobs, sizeof jobs, nullptr, nullptr))
    jobList = true;  // Windows 10+; otherwise AssignProcessToJobObject below

  STARTUPINFOEXW si;
  ZeroMemory(&si, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = stdio[0].valid() ? stdio[0].get() : nullptr;
  si.StartupInfo.hStdOutput = stdio[1].valid() ? stdio[1].get() : nullptr;
  si.StartupInfo.hStdError = stdio[2].valid() ? stdio[2].get() : nullptr;
  if (req.windowsHide) {
    si.StartupInfo.dwFlags |= STARTF_USESHOWWINDOW;
    si.StartupInfo.wShowWindow = SW_HIDE;
  }
  si.lpAttributeList = attrs.get();
  DWORD flags = CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT |
                EXTENDED_STARTUPINFO_PRESENT;
  if (req.console == ConsoleMode::kNew) flags |= CREATE_NEW_CONSOLE;
  if (req.console == ConsoleMode::kNone) flags |= DETACHED_PROCESS;

  std::vector<wchar_t> cmd(cmdline.begin(), cmdline.end());
  cmd.push_back(L'\0');  // CreateProcessW may write into it
  PROCESS_INFORMATION pi;
  ZeroMemory(&pi, sizeof pi);
  const wchar_t* cwd = req.cwd.empty() ? nullptr : req.cwd.c_str();
  void* env = req.hasEnv ? envBlock.data() : nullptr;
  BOOL inheritHandles = inherit.empty() ? FALSE : TRUE;
  const char* createCall = token.valid() ? "CreateProcessAsUserW" : "CreateProcessW";
  auto create = [&]() -> BOOL {
    if (token.valid())
      return CreateProcessAsUserW(token.get(), req.file.c_str(), cmd.data(), nullptr, nullptr,
                                  inheritHandles, flags, env, cwd, &si.StartupInfo, &pi);
    return CreateProcessW(req.file.c_str(), cmd.data(), nullptr, nullptr, inheritHandles, flags,
                          env, cwd, &si.StartupInfo, &pi);
  };
  BOOL ok = create();
  if (!ok && jobList) {
    DWORD gle = GetLastError();
    if (gle == ERROR_INVALID_PARAMETER || gle == ERROR_NOT_SUPPORTED ||
        gle == ERROR_ACCESS_DENIED) {
      // The job list itself may be what was refused: try once more without it.
      AttributeList plain;
      if (!plain.Init(1, err)) return false;
      if (!inherit.empty() && !UpdateProcThreadAttribute(
                                  plain.get(), 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit.data(),
                                  inherit.size() * sizeof(HANDLE), nullptr, nullptr)) {
        *err = LastError("attributes", "UpdateProcThreadAttribute");
        return false;
      }
      si.lpAttributeList = plain.get();
      jobList = false;
      ok = create();
      si.lpAttributeList = attrs.get();
    } else {
      SetLastError(gle);
    }
  }
  if (!ok) {
    *err = LastError("create", createCall);
    return false;
  }
  Handle process(pi.hProcess), thread(pi.hThread);

  auto kill = [&]() {
    TerminateProcess(process.get(), 1);
    WaitForSingleObject(process.get(), 5000);
  };
  BOOL in = FALSE;
  if (!jobList || !IsProcessInJob(process.get(), job.get(), &in) || !in) {
    jobList = false;
    if (!AssignProcessToJobObject(job.get(), process.get())) {
      *err = LastError("assign", "AssignProcessToJobObject");
      kill();
      return false;
    }
  }
  out->startTimeMicros = ProcessStartMicros(process.get());
  if (!AdoptChild(id, process.release(), job.release(), pi.dwProcessId, jobName, limits, false,
                  err)) {
    // AdoptChild closed both handles; the suspended child dies with its job only if
    // kill-on-close was set, so terminate it explicitly through a fresh handle.
    Handle p(OpenProcess(PROCESS_TERMINATE, FALSE, pi.dwProcessId));
    if (p.valid()) TerminateProcess(p.get(), 1);
    return false;
  }
  if (ResumeThread(thread.get()) == static_cast<DWORD>(-1)) {
    *err = LastError("resume", "ResumeThread");
    Error ignored;
    Terminate(id, 1, &ignored);
    Close(id);
    return false;
  }
  out->id = id;
  out->pid = pi.dwProcessId;
  out->jobName = jobName;
  out->jobList = jobList;
  out->restricted = token.valid();
  out->limits = limits;
  out->limitResult = std::move(lr);
  out->token = createCall;
  return true;
}

}  // namespace win
}  // namespace confine
