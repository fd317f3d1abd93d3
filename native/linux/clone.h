// Linux process creation with vfork semantics, and what the kernel offers for it.
#pragma once

#include <stdint.h>

namespace confine {
namespace linux_clone {

// Measured, never guessed from a version: clone3 answers EINVAL (not ENOSYS) to an empty
// argument struct; a kernel that knows CLONE_INTO_CGROUP answers EINVAL (not E2BIG) to an
// out-of-range cgroup fd in a 88-byte struct. Neither call creates a process.
bool ProbeClone3();
bool ProbeCloneIntoCgroup();

// Runs fn(arg) in a child made with CLONE_VM|CLONE_VFORK|flags (namespaces) on a stack of its
// own, with every signal blocked around the clone, and returns once the child has exited or
// exec'd: its pid (the caller reaps it), or -errno when it could not be made. fn follows the
// rules of native/posix/child.cc and ends with exit, never returns. For probes.
long RunVforked(uint64_t flags, int (*fn)(void*), void* arg);

}  // namespace linux_clone
}  // namespace confine
