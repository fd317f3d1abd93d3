// Capability sets for a child that runs as uid 0: the bounding set dropped to the kept list, the
// kept ones in the inheritable and ambient sets (so they survive execve), securebits locked so
// that uid 0 alone grants nothing again.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "../posix/child.h"

namespace confine {
namespace caps {

// Capability names, lowercase without the prefix ("net_bind_service"), indexed by number.
std::vector<std::string> Names();
// "CAP_NET_BIND_SERVICE", "cap_net_bind_service" or "net_bind_service" (any case) -> 10.
bool FromName(const std::string& name, int* number);
// The highest capability number this kernel knows (PR_CAPBSET_READ answers EINVAL past it).
int LastCap();

// The child's plan: what to keep, and how far the kernel's numbering goes.
struct ChildPlan {
  uint64_t keep = 0;  // bit n = capability n
  int lastCap = 0;
};

// Child side, raw system calls only. Returns 0, or -errno with *failed naming the call.
long Apply(const ChildPlan& plan, Syscall* failed);

}  // namespace caps
}  // namespace confine
