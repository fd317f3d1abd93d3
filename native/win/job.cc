// Job Object limits, accounting and naming.
#include "core.h"

#include <bcrypt.h>
#include <psapi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>

namespace confine {
namespace win {

namespace {
DWORD LogicalProcessors() {
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  if (n == 0) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    n = si.dwNumberOfProcessors;
  }
  return n ? n : 1;
}
template <typename T>
void Merge(const Field<T>& f, T* slot) {
  if (f.op == Field<T>::kSet) *slot = f.value;
  else if (f.op == Field<T>::kClear) *slot = T{};
}
}  // namespace

uint32_t CpuRateFor(double cores) {
  double rate = std::floor(cores / LogicalProcessors() * 10000.0 + 0.5);
  if (!(rate >= 1)) rate = 1;
  if (rate > 10000) rate = 10000;
  return static_cast<uint32_t>(rate);
}

uint32_t CpuWeightFor(uint32_t weight) {
  // cgroup v2 cpu.weight (1..10000, default 100) onto the job weight (1..9, default 5),
  // logarithmically: 1 → 1, 100 → 5, 10000 → 9.
  if (weight < 1) weight = 1;
  if (weight > 10000) weight = 10000;
  double w = 5.0 + 2.0 * std::log10(static_cast<double>(weight) / 100.0);
  long r = std::lround(w);
  return static_cast<uint32_t>(std::min(9L, std::max(1L, r)));
}

void MergeLimits(LimitState* s, const LimitUpdate& u) {
  Merge(u.memoryBytes, &s->memoryBytes);
  Merge(u.processMemoryBytes, &s->processMemoryBytes);
  Merge(u.maxProcesses, &s->maxProcesses);
  Merge(u.cpu, &s->cpu);
  Merge(u.cpuWeight, &s->cpuWeight);
  Merge(u.cpuSeconds, &s->cpuSeconds);
  Merge(u.killOnClose, &s->killOnClose);
}

LimitResult ApplyLimits(HANDLE job, LimitState* state, const LimitUpdate& u) {
  LimitResult res;
  LimitState next = *state;
  MergeLimits(&next, u);

  // One structure carries memory, process count, CPU time and kill-on-close: written whole from
  // our own record (Wine reads memory limits back as 0, so read-modify-write would lose them).
  bool basicTouched = u.memoryBytes.op || u.processMemoryBytes.op || u.maxProcesses.op ||
                      u.cpuSeconds.op || u.killOnClose.op;
  if (basicTouched) {
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    ZeroMemory(&li, sizeof li);
    // A crash in the tree must not wait on an error-report dialog; never breakaway.
    DWORD flags = JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    if (next.memoryBytes) {
      flags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
      li.JobMemoryLimit = static_cast<SIZE_T>(next.memoryBytes);
    }
    if (next.processMemoryBytes) {
      flags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY;
      li.ProcessMemoryLimit = static_cast<SIZE_T>(next.processMemoryBytes);
    }
    if (next.maxProcesses) {
      flags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
      li.BasicLimitInformation.ActiveProcessLimit = next.maxProcesses;
    }
    if (next.cpuSeconds > 0) {
      flags |= JOB_OBJECT_LIMIT_PROCESS_TIME;
      li.BasicLimitInformation.PerProcessUserTimeLimit.QuadPart =
          static_cast<LONGLONG>(next.cpuSeconds * 1e7);
    }
    if (next.killOnClose) flags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    li.BasicLimitInformation.LimitFlags = flags;
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li, sizeof li)) {
      Error e = LastError("limits", "SetInformationJobObject");
      for (const char* k :
           {"memoryBytes", "processMemoryBytes", "maxProcesses", "cpuSeconds", "killOnClose"})
        res.errors[k] = e;
      next.memoryBytes = state->memoryBytes;
      next.processMemoryBytes = state->processMemoryBytes;
      next.maxProcesses = state->maxProcesses;
      next.cpuSeconds = state->cpuSeconds;
      next.killOnClose = state->killOnClose;
    }
  }

  // CPU rate control: a hard cap and a weight exclude each other; the cap wins.
  if (u.cpu.op || u.cpuWeight.op) {
    JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
    ZeroMemory(&cr, sizeof cr);
    uint32_t rate = 0, weight = 0;
    if (next.cpu > 0) {
      rate = CpuRateFor(next.cpu);
      cr.ControlFlags = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
      cr.CpuRate = rate;
      if (next.cpuWeight)
        res.notes.push_back(
            "cpuWeight: not applied, a CPU hard cap (cpu) and a weight exclude each other");
    } else if (next.cpuWeight) {
      weight = CpuWeightFor(next.cpuWeight);
      cr.ControlFlags =
          JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED;
      cr.Weight = weight;
    }
    bool nothingBefore = state->cpuRate == 0 && state->cpuRateWeight == 0;
    if (cr.ControlFlags == 0 && nothingBefore) {
      // nothing to write
    } else if (!SetInformationJobObject(job, JobObjectCpuRateControlInformation, &cr, sizeof cr)) {
      Error e = LastError("limits", "SetInformationJobObject");
      if (u.cpu.op) res.errors["cpu"] = e;
      if (u.cpuWeight.op) res.errors["cpuWeight"] = e;
      next.cpu = state->cpu;
      next.cpuWeight = state->cpuWeight;
      rate = state->cpuRate;
      weight = state->cpuRateWeight;
    }
    next.cpuRate = rate;
    next.cpuRateWeight = weight;
  }
  *state = next;
  return res;
}

bool ReadLimits(HANDLE job, LimitState* s) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  ZeroMemory(&li, sizeof li);
  if (!QueryInformationJobObject(job, JobObjectExtendedLimitInformation, &li, sizeof li, nullptr))
    return false;
  DWORD f = li.BasicLimitInformation.LimitFlags;
  s->memoryBytes = (f & JOB_OBJECT_LIMIT_JOB_MEMORY) ? li.JobMemoryLimit : 0;
  s->processMemoryBytes = (f & JOB_OBJECT_LIMIT_PROCESS_MEMORY) ? li.ProcessMemoryLimit : 0;
  s->maxProcesses =
      (f & JOB_OBJECT_LIMIT_ACTIVE_PROCESS) ? li.BasicLimitInformation.ActiveProcessLimit : 0;
  s->cpuSeconds = (f & JOB_OBJECT_LIMIT_PROCESS_TIME)
                      ? li.BasicLimitInformation.PerProcessUserTimeLimit.QuadPart / 1e7
                      : 0;
  s->killOnClose = (f & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE) != 0;
  JOBOBJECT_CPU_RATE_CONTROL_INFORMATION cr;
  ZeroMemory(&cr, sizeof cr);
  if (QueryInformationJobObject(job, JobObjectCpuRateControlInformation, &cr, sizeof cr, nullptr) &&
      (cr.ControlFlags & JOB_OBJECT_CPU_RATE_CONTROL_ENABLE)) {
    if (cr.ControlFlags & JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP) {
      s->cpuRate = cr.CpuRate;
      s->cpu = cr.CpuRate / 10000.0 * LogicalProcessors();
    } else if (cr.ControlFlags & JOB_OBJECT_CPU_RATE_CONTROL_WEIGHT_BASED) {
      s->cpuRateWeight = cr.Weight;
    }
  }
  return true;
}

bool JobProcessIds(HANDLE job, std::vector<DWORD>* pids, Error* err) {
  // The structure declares ProcessIdList with one element; read it through a plain pointer
  // (g++ -O1 otherwise assumes a single element and loops once).
  const size_t header = offsetof(JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList);
  size_t capacity = 64;
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::vector<unsigned char> buf(header + capacity * sizeof(ULONG_PTR), 0);
    auto* list = reinterpret_cast<JOBOBJECT_BASIC_PROCESS_ID_LIST*>(buf.data());
    BOOL ok = QueryInformationJobObject(job, JobObjectBasicProcessIdList, list,
                                        static_cast<DWORD>(buf.size()), nullptr);
    DWORD gle = ok ? 0 : GetLastError();
    if (ok && list->NumberOfProcessIdsInList >= list->NumberOfAssignedProcesses) {
      const ULONG_PTR* ids = reinterpret_cast<const ULONG_PTR*>(buf.data() + header);
      pids->clear();
      for (DWORD i = 0; i < list->NumberOfProcessIdsInList; ++i)
        pids->push_back(static_cast<DWORD>(ids[i]));
      return true;
    }
    if (!ok && gle != ERROR_MORE_DATA) {
      if (err) *err = MakeError("stats", "QueryInformationJobObject", gle);
      return false;
    }
    capacity = std::max<size_t>(capacity * 2, list->NumberOfAssignedProcesses + 16);
  }
  if (err) *err = MakeError("stats", "QueryInformationJobObject", ERROR_MORE_DATA);
  return false;
}

bool QueryJobStats(HANDLE job, JobStats* out, Error* err) {
  // Best effort per source: Wine, for one, has the process list but no accounting classes.
  bool any = false;
  Error first;
  JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION acc;
  ZeroMemory(&acc, sizeof acc);
  if (QueryInformationJobObject(job, JobObjectBasicAndIoAccountingInformation, &acc, sizeof acc,
                                nullptr)) {
    any = true;
    out->readOps = acc.IoInfo.ReadOperationCount;
    out->writeOps = acc.IoInfo.WriteOperationCount;
    out->readBytes = acc.IoInfo.ReadTransferCount;
    out->writeBytes = acc.IoInfo.WriteTransferCount;
  } else {
    first = LastError("stats", "QueryInformationJobObject");
    if (QueryInformationJobObject(job, JobObjectBasicAccountingInformation, &acc.BasicInfo,
                                  sizeof acc.BasicInfo, nullptr))
      any = true;
  }
  bool accounting = any;
  if (accounting) {
    out->activeProcesses = acc.BasicInfo.ActiveProcesses;
    out->totalProcesses = acc.BasicInfo.TotalProcesses;
    out->terminatedProcesses = acc.BasicInfo.TotalTerminatedProcesses;
    out->userMicros = static_cast<uint64_t>(acc.BasicInfo.TotalUserTime.QuadPart) / 10;
    out->systemMicros = static_cast<uint64_t>(acc.BasicInfo.TotalKernelTime.QuadPart) / 10;
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  ZeroMemory(&li, sizeof li);
  if (QueryInformationJobObject(job, JobObjectExtendedLimitInformation, &li, sizeof li, nullptr)) {
    out->peakMemoryBytes = li.PeakJobMemoryUsed;
    out->peakProcessMemoryBytes = li.PeakProcessMemoryUsed;
  }
  out->pids.clear();
  out->memoryBytes = 0;
  Error listErr;
  if (JobProcessIds(job, &out->pids, &listErr)) {
    any = true;
    if (!accounting) out->activeProcesses = static_cast<uint32_t>(out->pids.size());
    for (DWORD pid : out->pids) {
      Handle p(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid));
      if (!p.valid()) continue;
      PROCESS_MEMORY_COUNTERS_EX pmc;
      ZeroMemory(&pmc, sizeof pmc);
      pmc.cb = sizeof pmc;
      if (K32GetProcessMemoryInfo(p.get(), reinterpret_cast<PROCESS_MEMORY_COUNTERS*>(&pmc),
                                  sizeof pmc))
        out->memoryBytes += pmc.PrivateUsage;
      if (!accounting) {  // the tree's CPU time as far as the living processes tell
        FILETIME c, e, k, u;
        if (GetProcessTimes(p.get(), &c, &e, &k, &u)) {
          out->userMicros +=
              ((static_cast<uint64_t>(u.dwHighDateTime) << 32) | u.dwLowDateTime) / 10;
          out->systemMicros +=
              ((static_cast<uint64_t>(k.dwHighDateTime) << 32) | k.dwLowDateTime) / 10;
        }
      }
    }
  }
  if (out->peakMemoryBytes < out->memoryBytes) out->peakMemoryBytes = out->memoryBytes;
  if (!any && err) *err = first.failed() ? first : listErr;
  return any;
}

std::wstring NewJobName(uint32_t serial) {
  unsigned long long rnd = 0;
  if (BCryptGenRandom(nullptr, reinterpret_cast<PUCHAR>(&rnd), sizeof rnd,
                      BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
    LARGE_INTEGER qpc;
    QueryPerformanceCounter(&qpc);
    rnd = static_cast<unsigned long long>(qpc.QuadPart) * 0x9E3779B97F4A7C15ull ^ GetTickCount64();
  }
  wchar_t buf[96];
  swprintf(buf, 96, L"Local\\confine-%lu-%lu-%016llx",
           static_cast<unsigned long>(GetCurrentProcessId()), static_cast<unsigned long>(serial),
           rnd);
  return buf;
}

}  // namespace win
}  // namespace confine
