#include "cgroup_dirs.h"

#include <errno.h>
#include <unistd.h>

namespace confine {

bool RemoveEmptyCgroupDirs(std::vector<std::string>* dirs) {
  std::vector<std::string> busy;
  for (std::string& dir : *dirs) {
    if (rmdir(dir.c_str()) != 0 && errno == EBUSY) busy.push_back(std::move(dir));
  }
  dirs->swap(busy);
  return dirs->empty();
}

}  // namespace confine
