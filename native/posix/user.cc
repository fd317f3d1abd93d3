// getpwnam_r / getpwuid_r and getgrouplist with buffers that grow until the answer fits.
// These run in the supervisor (never in the child), so libc and allocation are fine here.
#include "user.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace confine {
namespace {

// A buffer larger than any sane passwd entry: stop growing there rather than loop forever.
constexpr size_t kMaxPwBuffer = 1 << 20;
// More supplementary groups than Linux allows (NGROUPS_MAX is 65536).
constexpr int kMaxGroups = 1 << 17;

#ifdef __APPLE__
using GroupListEntry = int;  // macOS declares getgrouplist(const char*, int, int*, int*)
#else
using GroupListEntry = gid_t;
#endif

// getgrouplist with a growing buffer. glibc reports the needed count in *ngroups when the buffer
// is too small; macOS does not reliably, so also double.
int GroupsOf(const char* name, gid_t gid, std::vector<uint32_t>* out) {
  int size = 64;
  for (;;) {
    std::vector<GroupListEntry> buf(size);
    int n = size;
    if (getgrouplist(name, static_cast<GroupListEntry>(gid), buf.data(), &n) >= 0) {
      out->assign(buf.begin(), buf.begin() + n);
      return 0;
    }
    if (size >= kMaxGroups) return ERANGE;
    size = n > size ? n : size * 2;
    if (size > kMaxGroups) size = kMaxGroups;
  }
}

template <typename GetPw>
LookupResult Lookup(GetPw lookup, const char* syscall) {
  LookupResult res;
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  size_t size = hint > 0 ? static_cast<size_t>(hint) : 1024;
  std::vector<char> buf;
  struct passwd pw;
  struct passwd* found = nullptr;
  for (;;) {
    buf.resize(size);
    int err = lookup(&pw, buf.data(), buf.size(), &found);
    if (err == EINTR) continue;
    if (err == ERANGE && size < kMaxPwBuffer) {
      size *= 2;
      continue;
    }
    // Not found is "0 and a null result"; some NSS modules say ENOENT or ESRCH instead.
    if (err == 0 && found == nullptr) return res;
    if (err == ENOENT || err == ESRCH) return res;
    if (err != 0) {
      res.err = err;
      res.syscall = syscall;
      return res;
    }
    break;
  }
  res.found = true;
  res.user.uid = pw.pw_uid;
  res.user.gid = pw.pw_gid;
  res.user.name = pw.pw_name ? pw.pw_name : "";
  res.user.home = pw.pw_dir ? pw.pw_dir : "";
  res.user.shell = pw.pw_shell ? pw.pw_shell : "";
  int err = GroupsOf(res.user.name.c_str(), pw.pw_gid, &res.user.groups);
  if (err != 0) {
    res.found = false;
    res.err = err;
    res.syscall = "getgrouplist";
  }
  return res;
}

}  // namespace

LookupResult LookupUserByName(const std::string& name) {
  return Lookup([&](struct passwd* pw, char* buf, size_t len,
                    struct passwd** out) { return getpwnam_r(name.c_str(), pw, buf, len, out); },
                "getpwnam_r");
}

LookupResult LookupUserById(uint32_t uid) {
  return Lookup(
      [&](struct passwd* pw, char* buf, size_t len, struct passwd** out) {
        return getpwuid_r(static_cast<uid_t>(uid), pw, buf, len, out);
      },
      "getpwuid_r");
}

}  // namespace confine
