#include "fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace confine {

int PipeCloexec(int fds[2]) {
#ifdef __linux__
  return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
#else
  if (pipe(fds) != 0) return errno;
  for (int i = 0; i < 2; i++) {
    if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      return err;
    }
  }
  return 0;
#endif
}

FdResult MakePipe(int fds[2], bool nonBlockingWrite) {
  FdResult r;
  r.err = PipeCloexec(fds);
  if (r.err != 0) {
    r.syscall = "pipe2";
    return r;
  }
  if (nonBlockingWrite) {
    // On the write end's open file description only: the reader's end stays blocking.
    int flags = fcntl(fds[1], F_GETFL);
    if (flags < 0 || fcntl(fds[1], F_SETFL, flags | O_NONBLOCK) != 0) {
      r.err = errno;
      r.syscall = "fcntl";
      close(fds[0]);
      close(fds[1]);
    }
  }
  return r;
}

FdResult OpenDevNull(int flags, int* fd) {
  FdResult r;
  do { *fd = open("/dev/null", flags | O_CLOEXEC); } while (*fd < 0 && errno == EINTR);
  if (*fd < 0) {
    r.err = errno;
    r.syscall = "open";
  }
  return r;
}

FdResult CloseFd(int fd) {
  FdResult r;
  if (close(fd) != 0 && errno != EINTR) {
    r.err = errno;
    r.syscall = "close";
  }
  return r;
}

FdResult ReadFromStart(int fd, std::string* out, bool shortReadEnds) {
  FdResult r;
  out->clear();
  // cgroup and proc files are a few hundred bytes; the loop serves a longer one too.
  char buf[4096];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, static_cast<off_t>(out->size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EISDIR) {
      FdId id = IdOf(fd);
      if (id.known) {
        *out = LinkCountText(id.links);
        return r;
      }
      errno = EISDIR;  // its fstat failed: the read's own error
    }
    if (n < 0) {
      r.err = errno;
      r.syscall = "pread";
      return r;
    }
    if (n == 0) return r;
    out->append(buf, static_cast<size_t>(n));
    if (shortReadEnds && static_cast<size_t>(n) < sizeof buf) return r;
  }
}

std::string LinkCountText(unsigned long long links) {
  return "nlink " + std::to_string(links) + "\n";
}

FdResult FdIdentity(int fd, std::string* out) {
  FdResult r;
  FdId id = IdOf(fd);
  if (!id.known) {
    r.err = fd < 0 ? EBADF : errno;
    r.syscall = "fstat";
    return r;
  }
  *out = IdText(id);
  return r;
}

std::string IdText(const FdId& id) {
  return std::to_string(static_cast<unsigned long long>(id.dev)) + ":" +
         std::to_string(static_cast<unsigned long long>(id.ino));
}

FdId IdOf(int fd) {
  FdId id;
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0) {
    id.known = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.dir = S_ISDIR(st.st_mode);
    id.links = static_cast<unsigned long long>(st.st_nlink);
  }
  return id;
}

bool StillOurs(int fd, const FdId& id) {
  if (fd < 0) return false;
  if (!id.known) return true;  // nothing to check against (its fstat failed): as before the check
  FdId now = IdOf(fd);
  return now.known && now.dev == id.dev && now.ino == id.ino;
}

void CloseIfOurs(int fd, const FdId& id) {
  if (StillOurs(fd, id)) close(fd);
}

FdResult ReadSmallFile(const char* path, std::string* out, bool shortReadEnds) {
  int fd;
  do { fd = open(path, O_RDONLY | O_CLOEXEC); } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    FdResult r;
    r.err = errno;
    r.syscall = "open";
    return r;
  }
  FdResult r = ReadFromStart(fd, out, shortReadEnds);
  close(fd);
  return r;
}

}  // namespace confine
