// What this host offers, measured where it can be (never guessed from a version number, except
// nested jobs, which cannot be measured without starting a process).
#include <cstdio>

#include "core.h"

namespace confine {
namespace win {

namespace {
typedef const char*(__cdecl* WineGetVersion)();
typedef LONG(WINAPI* RtlGetVersionFn)(OSVERSIONINFOW*);
}  // namespace

bool IsWine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

uint32_t HandleCount() {
  DWORD n = 0;
  if (GetProcessHandleCount(GetCurrentProcess(), &n) && n > 0) return n;
  // Wine answers 0: count the handle values that are valid instead (kernel handles are
  // multiples of 4; this process stays far below the bound).
  for (uintptr_t v = 4; v < (1u << 18); v += 4) {
    DWORD flags;
    if (GetHandleInformation(reinterpret_cast<HANDLE>(v), &flags)) ++n;
  }
  return n;
}

void RunProbe(Probe* out) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  if (ntdll) {
    auto wine = reinterpret_cast<WineGetVersion>(
        reinterpret_cast<void*>(GetProcAddress(ntdll, "wine_get_version")));
    if (wine) out->wine = wine();
    auto rtl = reinterpret_cast<RtlGetVersionFn>(
        reinterpret_cast<void*>(GetProcAddress(ntdll, "RtlGetVersion")));
    OSVERSIONINFOW vi;
    ZeroMemory(&vi, sizeof vi);
    vi.dwOSVersionInfoSize = sizeof vi;
    if (rtl && rtl(&vi) == 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%lu.%lu.%lu", vi.dwMajorVersion, vi.dwMinorVersion,
                    vi.dwBuildNumber);
      out->windowsVersion = buf;
      out->nestedJobs = vi.dwMajorVersion > 6 || (vi.dwMajorVersion == 6 && vi.dwMinorVersion >= 2);
    }
  }
  out->processors = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  Handle job(CreateJobObjectW(nullptr, nullptr));
  if (job.valid()) {
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
    std::vector<unsigned char> buf(size);
    auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(buf.data());
    if (InitializeProcThreadAttributeList(list, 1, 0, &size)) {
      HANDLE jobs[1] = {job.get()};
      out->jobList = UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_JOB_LIST, jobs,
                                               sizeof jobs, nullptr, nullptr) != FALSE;
      DeleteProcThreadAttributeList(list);
    }
    JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
    ZeroMemory(&cr, sizeof cr);
    cr.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
    cr.CpuRate = 5000;
    out->cpuRateControl = SetInformationJobObject(job.get(), JobObjectCpuRateControlInformation,
                                                  &cr, sizeof cr) != FALSE;
  }
  Handle token;
  Error err;
  out->restrictedToken = MakeRestrictedToken(Integrity::kUnchanged, &token, &err);
  DWORD pids[4];
  out->console = GetConsoleProcessList(pids, 4) > 0;
}

}  // namespace win
}  // namespace confine
