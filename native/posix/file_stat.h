// Facts about files from stat(2) and access(2), one native call each where the JS side would
// make two or three fs calls on every spawn.
#pragma once

#include <string>
#include <vector>

namespace confine {

// What changes when any of these files changes (device, inode, size, mtime and ctime to the
// nanosecond; "-" for one that cannot be stat'ed): the user lookup cache's key, one call
// instead of a statSync per file.
std::string FilesStamp(const std::vector<std::string>& paths);

// 0 when path is a regular file this process may execute (access X_OK); else the errno: that of
// stat or access, EISDIR for a directory, EACCES for anything else that is not a regular file.
int ExecutableFile(const std::string& path);

}  // namespace confine
