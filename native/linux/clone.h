// Linux process creation with vfork semantics, and what the kernel offers for it.
#pragma once

namespace confine {
namespace linux_clone {

// Measured, never guessed from a version: clone3 answers EINVAL (not ENOSYS) to an empty
// argument struct; a kernel that knows CLONE_INTO_CGROUP answers EINVAL (not E2BIG) to an
// out-of-range cgroup fd in a 88-byte struct. Neither call creates a process.
bool ProbeClone3();
bool ProbeCloneIntoCgroup();

}  // namespace linux_clone
}  // namespace confine
