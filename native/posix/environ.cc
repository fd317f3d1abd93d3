#include "environ.h"

#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#elif defined(__APPLE__)
#include <pthread.h>
#endif

#include <string>

extern char** environ;

namespace confine {

uint64_t EnvironGeneration() {
  // The whole environment as one string ("A=1\0B=2\0"): a few KB, compared and copied in about
  // a microsecond, far less than reading process.env key by key (each read goes through V8's
  // interceptor into getenv).
  static std::string last;
  static uint64_t generation = 0;
  std::string now;
  now.reserve(last.size() + 64);
  for (char** e = environ; e != nullptr && *e != nullptr; e++) now.append(*e, strlen(*e) + 1);
  if (generation == 0 || now != last) {
    last.swap(now);
    generation++;
  }
  return generation;
}

bool OnInitialThread() {
#ifdef __linux__
  return syscall(SYS_gettid) == getpid();
#elif defined(__APPLE__)
  return pthread_main_np() != 0;
#else
  return false;
#endif
}

}  // namespace confine
