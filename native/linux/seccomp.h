// The system call filter: a classic-BPF program built in the parent from a policy, once per
// distinct policy (a cache keyed by the policy), and installed by the child as its last step
// before execve. seccomp.cc holds the table of what the default filter denies and why.
#pragma once

#include <linux/filter.h>

#include <memory>
#include <string>
#include <vector>

namespace confine {
namespace seccomp {

// What a filter denies on top of the default table.
struct Policy {
  std::vector<std::string> deny;  // more system call names, answered EPERM
  bool denyIoUring = false;       // io_uring_setup/enter/register (the network is not 'host')
  bool unixSocketsOnly = false;   // socket() of any family but AF_UNIX answered EAFNOSUPPORT
};

struct Filter {
  std::vector<sock_filter> code;
  sock_fprog program;  // points into code: what seccomp(2) takes
};

// The names `deny` may hold on this architecture (syscall_numbers.h), in table order.
std::vector<std::string> SyscallNames();
bool IsKnownSyscall(const std::string& name);

// The compiled filter for a policy. Policies that differ only in order or repetition of `deny`
// share one program. Returns nullptr and names the culprit in *unknown when a name is not a
// system call of this architecture.
std::shared_ptr<const Filter> FilterFor(const Policy& policy, std::string* unknown);

// Whether this kernel can install a filter at all (CONFIG_SECCOMP_FILTER, seccomp(2) with
// SECCOMP_GET_ACTION_AVAIL, 4.14+), and whether the errno action exists.
bool ProbeFilter();

// Child side: installs the program (raw seccomp(2), no allocation). Returns 0 or -errno.
long Install(const sock_fprog* program);

}  // namespace seccomp
}  // namespace confine
