// Win32 error codes → names ("ERROR_FILE_NOT_FOUND", else "WIN32_<n>") and the closest errno.
#include <cstdio>

#include "core.h"

namespace confine {
namespace win {

namespace {
struct Entry {
  DWORD code;
  const char* name;
  const char* posix;
};
const Entry kErrors[] = {
    {0, "ERROR_SUCCESS", nullptr},
    {1, "ERROR_INVALID_FUNCTION", "ENOSYS"},
    {2, "ERROR_FILE_NOT_FOUND", "ENOENT"},
    {3, "ERROR_PATH_NOT_FOUND", "ENOENT"},
    {4, "ERROR_TOO_MANY_OPEN_FILES", "EMFILE"},
    {5, "ERROR_ACCESS_DENIED", "EACCES"},
    {6, "ERROR_INVALID_HANDLE", "EBADF"},
    {8, "ERROR_NOT_ENOUGH_MEMORY", "ENOMEM"},
    {11, "ERROR_BAD_FORMAT", "ENOEXEC"},
    {13, "ERROR_INVALID_DATA", "EINVAL"},
    {14, "ERROR_OUTOFMEMORY", "ENOMEM"},
    {15, "ERROR_INVALID_DRIVE", "ENOENT"},
    {32, "ERROR_SHARING_VIOLATION", "EBUSY"},
    {50, "ERROR_NOT_SUPPORTED", "ENOTSUP"},
    {53, "ERROR_BAD_NETPATH", "ENOENT"},
    {87, "ERROR_INVALID_PARAMETER", "EINVAL"},
    {109, "ERROR_BROKEN_PIPE", "EPIPE"},
    {120, "ERROR_CALL_NOT_IMPLEMENTED", "ENOSYS"},
    {122, "ERROR_INSUFFICIENT_BUFFER", "ENOBUFS"},
    {123, "ERROR_INVALID_NAME", "ENOENT"},
    {129, "ERROR_CHILD_NOT_COMPLETE", "ENOEXEC"},
    {161, "ERROR_BAD_PATHNAME", "ENOENT"},
    {183, "ERROR_ALREADY_EXISTS", "EEXIST"},
    {191, "ERROR_INVALID_EXE_SIGNATURE", "ENOEXEC"},
    {193, "ERROR_BAD_EXE_FORMAT", "ENOEXEC"},
    {206, "ERROR_FILENAME_EXCED_RANGE", "E2BIG"},
    {216, "ERROR_EXE_MACHINE_TYPE_MISMATCH", "ENOEXEC"},
    {230, "ERROR_BAD_PIPE", "EPIPE"},
    {231, "ERROR_PIPE_BUSY", "EBUSY"},
    {232, "ERROR_NO_DATA", "EPIPE"},
    {233, "ERROR_PIPE_NOT_CONNECTED", "ENOTCONN"},
    {259, "ERROR_NO_MORE_ITEMS", nullptr},
    {267, "ERROR_DIRECTORY", "ENOTDIR"},
    {298, "ERROR_TOO_MANY_POSTS", nullptr},
    {299, "ERROR_PARTIAL_COPY", "EIO"},
    {487, "ERROR_INVALID_ADDRESS", "EFAULT"},
    {535, "ERROR_PIPE_CONNECTED", nullptr},
    {740, "ERROR_ELEVATION_REQUIRED", "EACCES"},
    {995, "ERROR_OPERATION_ABORTED", "ECANCELED"},
    {997, "ERROR_IO_PENDING", nullptr},
    {1150, "ERROR_OLD_WIN_VERSION", "ENOEXEC"},
    {1168, "ERROR_NOT_FOUND", "ENOENT"},
    {1300, "ERROR_NOT_ALL_ASSIGNED", "EPERM"},
    {1307, "ERROR_INVALID_OWNER", "EPERM"},
    {1314, "ERROR_PRIVILEGE_NOT_HELD", "EPERM"},
    {1337, "ERROR_INVALID_SID", "EINVAL"},
    {1816, "ERROR_NOT_ENOUGH_QUOTA", "ENOMEM"},
    {1455, "ERROR_COMMITMENT_LIMIT", "ENOMEM"},
};
}  // namespace

std::string ErrorName(DWORD code) {
  for (const Entry& e : kErrors)
    if (e.code == code) return e.name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "WIN32_%lu", static_cast<unsigned long>(code));
  return buf;
}

const char* PosixErrno(DWORD code) {
  for (const Entry& e : kErrors)
    if (e.code == code) return e.posix;
  return nullptr;
}

Error LastError(const char* stage, const char* syscall) {
  DWORD code = GetLastError();
  return MakeError(stage, syscall, code ? code : ERROR_INVALID_FUNCTION);
}

Error MakeError(const char* stage, const char* syscall, DWORD code, std::string message) {
  Error e;
  e.stage = stage ? stage : "";
  e.syscall = syscall ? syscall : "";
  e.code = code;
  e.message = std::move(message);
  return e;
}

std::string ErrorText(const Error& e) {
  std::string s;
  if (!e.message.empty()) s = e.message;
  if (!e.syscall.empty()) {
    if (!s.empty()) s += ": ";
    s += e.syscall + " failed";
  }
  if (e.code != 0) {
    s += (s.empty() ? "" : ": ") + ErrorName(e.code);
    wchar_t* text = nullptr;
    DWORD n = FormatMessageW(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, e.code, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
    if (n && text) {
      std::wstring w(text, n);
      while (!w.empty() &&
             (w.back() == L'\n' || w.back() == L'\r' || w.back() == L' ' || w.back() == L'.'))
        w.pop_back();
      if (!w.empty()) s += " (" + Narrow(w) + ")";
    }
    if (text) LocalFree(text);
  }
  if (!e.stage.empty()) s += " [stage " + e.stage + "]";
  return s;
}

std::wstring Widen(const std::string& s) {
  if (s.empty()) return {};
  int n = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
  std::wstring w(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), &w[0], n);
  return w;
}

std::string Narrow(const std::wstring& w) {
  if (w.empty()) return {};
  int n = WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0, nullptr,
                              nullptr);
  std::string s(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), &s[0], n, nullptr, nullptr);
  return s;
}

}  // namespace win
}  // namespace confine
