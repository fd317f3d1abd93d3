// Graceful stop: CTRL_BREAK to the child's process group when it shares our console, else
// WM_CLOSE to the top-level windows of the job's processes. Each says what it could do.
#include <algorithm>

#include "core.h"

namespace confine {
namespace win {

std::shared_ptr<Child> FindChildForConsole(uint32_t id);  // monitor.cc
HANDLE ChildJob(const std::shared_ptr<Child>& c);
DWORD ChildPid(const std::shared_ptr<Child>& c);

bool CtrlBreak(uint32_t id, CtrlBreakResult* out, Error* err) {
  auto c = FindChildForConsole(id);
  if (!c) {
    *err =
        MakeError("ctrlBreak", "", ERROR_INVALID_HANDLE, "no such child (closed or never opened)");
    return false;
  }
  DWORD pid = ChildPid(c);
  if (!pid) {
    out->reason = "no-process";  // reopened without a pid: no process group id to address
    return true;
  }
  // CTRL_BREAK reaches only processes attached to the caller's console.
  std::vector<DWORD> attached(256);
  DWORD n = GetConsoleProcessList(attached.data(), static_cast<DWORD>(attached.size()));
  if (n > attached.size()) {
    attached.resize(n + 16);
    n = GetConsoleProcessList(attached.data(), static_cast<DWORD>(attached.size()));
  }
  if (n == 0) {
    out->reason = "no-console";
    return true;
  }
  attached.resize(std::min<size_t>(n, attached.size()));
  std::vector<DWORD> pids;
  JobProcessIds(ChildJob(c), &pids, nullptr);
  pids.push_back(pid);
  bool any = false;
  for (DWORD p : pids)
    if (std::find(attached.begin(), attached.end(), p) != attached.end()) any = true;
  if (!any) {
    out->reason = "not-attached";
    return true;
  }
  if (!GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid)) {  // the group id is the child's pid
    out->reason = ErrorName(GetLastError());
    return true;
  }
  out->delivered = true;
  return true;
}

namespace {
struct EnumCtx {
  std::vector<DWORD> pids;
  std::vector<DWORD> hit;
  uint32_t windows = 0;
};
BOOL CALLBACK OnWindow(HWND hwnd, LPARAM lp) {
  auto* ctx = reinterpret_cast<EnumCtx*>(lp);
  DWORD pid = 0;
  GetWindowThreadProcessId(hwnd, &pid);
  if (std::find(ctx->pids.begin(), ctx->pids.end(), pid) == ctx->pids.end()) return TRUE;
  if (PostMessageW(hwnd, WM_CLOSE, 0, 0)) {
    ++ctx->windows;
    if (std::find(ctx->hit.begin(), ctx->hit.end(), pid) == ctx->hit.end()) ctx->hit.push_back(pid);
  }
  return TRUE;
}
}  // namespace

bool CloseWindows(uint32_t id, CloseWindowsResult* out, Error* err) {
  auto c = FindChildForConsole(id);
  if (!c) {
    *err = MakeError("closeWindows", "", ERROR_INVALID_HANDLE,
                     "no such child (closed or never opened)");
    return false;
  }
  EnumCtx ctx;
  if (!JobProcessIds(ChildJob(c), &ctx.pids, err)) return false;
  if (ctx.pids.empty()) return true;
  EnumWindows(OnWindow, reinterpret_cast<LPARAM>(&ctx));
  out->windows = ctx.windows;
  out->processes = static_cast<uint32_t>(ctx.hit.size());
  return true;
}

}  // namespace win
}  // namespace confine
