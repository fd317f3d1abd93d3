#include "file_stat.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

namespace confine {

std::string FilesStamp(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      out += "-;";
      continue;
    }
#ifdef __APPLE__
    const struct timespec& m = st.st_mtimespec;
    const struct timespec& c = st.st_ctimespec;
#else
    const struct timespec& m = st.st_mtim;
    const struct timespec& c = st.st_ctim;
#endif
    out += std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino) + ':' +
           std::to_string(st.st_size) + ':' + std::to_string(m.tv_sec) + '.' +
           std::to_string(m.tv_nsec) + ':' + std::to_string(c.tv_sec) + '.' +
           std::to_string(c.tv_nsec) + ';';
  }
  return out;
}

int ExecutableFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (!S_ISREG(st.st_mode)) return EACCES;
  if (access(path.c_str(), X_OK) != 0) return errno;
  return 0;
}

}  // namespace confine
