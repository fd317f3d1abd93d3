#include "cgroup_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace confine {
namespace {

// The start of file in dir (at most size - 1 bytes, NUL-terminated); -1 when it cannot be read.
ssize_t ReadStart(const std::string& dir, const char* file, char* buf, size_t size) {
  std::string path = dir + "/" + file;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do n = read(fd, buf, size - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n;
}

// Whether the cgroup at dir has members: v2's cgroup.events says "populated 1" (its own and
// its sub-cgroups'); v1 has no such file, its cgroup.procs lists them. Unreadable: none.
bool HasMembers(const std::string& dir) {
  char buf[256];
  if (ReadStart(dir, "cgroup.events", buf, sizeof buf) >= 0)
    return strstr(buf, "populated 1") != nullptr;
  return ReadStart(dir, "cgroup.procs", buf, sizeof buf) > 0;
}

bool NamedByConfine(const std::string& path) {
  size_t slash = path.rfind('/');
  return path.compare(slash == std::string::npos ? 0 : slash + 1, 7, "confine") == 0;
}

}  // namespace

CgroupDirs::CgroupDirs(const std::vector<std::string>& dirs) {
  for (const std::string& path : dirs) {
    struct stat st;
    if (!NamedByConfine(path) || stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    dirs_.push_back(Dir{path, st.st_dev, st.st_ino, 0});
  }
}

bool CgroupDirs::RemoveEmpty() {
  std::vector<Dir> busy;
  for (Dir& dir : dirs_) {
    struct stat st;
    if (stat(dir.path.c_str(), &st) != 0 || st.st_dev != dir.dev || st.st_ino != dir.ino) continue;
    if (rmdir(dir.path.c_str()) == 0 || errno != EBUSY) continue;
    if (HasMembers(dir.path)) dir.memberlessRounds = 0;
    else if (++dir.memberlessRounds >= kMaxMemberlessRounds) continue;
    busy.push_back(std::move(dir));
  }
  dirs_.swap(busy);
  return dirs_.empty();
}

}  // namespace confine
