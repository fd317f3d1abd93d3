// The system call filter: what 'default' denies, how a policy becomes a BPF program, the cache.
//
// A denylist, not an allowlist: a program that works today keeps working on a newer kernel, and
// the filter stays short. What it denies is what Docker's default profile denies (moby/profiles
// seccomp/default.json is an allowlist; these are the calls it leaves out for a container with
// Docker's default capabilities, compared with it as of moby/profiles cd3bed8, June 2026), plus
// ptrace and its relatives (Docker allows them since 4.8), and new user namespaces by argument.
// Left out on purpose although Docker's allowlist lacks them: chroot (Docker's default
// capabilities grant it; here it needs CAP_SYS_CHROOT, dropped unless kept) and file_getattr,
// file_setattr (newer than its profile; the same as the FS_IOC_FSGETXATTR/FSSETXATTR ioctls it
// allows). systemd's @system-service leaves out the same families
// (@mount, @module, @reboot, @swap, @clock, @debug, @raw-io, @obsolete, most of @privileged),
// though it allows the keyring calls and userfaultfd, which are denied here.
//
// Denied calls answer EPERM, as a kernel without the privilege would; clone3 answers ENOSYS, as
// a kernel without clone3 would, because its flags live in memory a filter cannot read and glibc
// falls back to clone(2) on ENOSYS, whose flags the filter checks. Nothing is ever killed. Calls
// of another ABI (i386 through int 0x80, x32 on x86-64, aarch32 on arm64) are denied whole:
// their numbers differ, and a filter that checked only the native numbers would let them by.
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "../posix/child_sys.h"
#include "syscall_numbers.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

namespace confine {
namespace seccomp {
namespace {

#if defined(__x86_64__)
constexpr bool kSupported = true;
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
constexpr int SyscallNumber::*kColumn = &SyscallNumber::x86_64;
#elif defined(__aarch64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool kSupported = true;
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
constexpr int SyscallNumber::*kColumn = &SyscallNumber::aarch64;
#else
// Other architectures: no filter (FilterFor fails, ProbeFilter says no); the TS side reports
// syscalls as not enforced there.
constexpr bool kSupported = false;
constexpr uint32_t kNativeArch = 0;
constexpr int SyscallNumber::*kColumn = &SyscallNumber::x86_64;
#endif

// How a denied call is matched.
enum class Check : uint8_t {
  kAlways,        // whatever its arguments
  kNewUserNs,     // clone, unshare: when the flags (argument 0) hold CLONE_NEWUSER
  kPersonality,   // personality: unless argument 0 is one of kAllowedPersonas
  kSocketFamily,  // socket: AF_ALG and AF_VSOCK (every family but AF_UNIX with unixSocketsOnly)
};

struct Denied {
  const char* name;
  int err;
  Check check;
};

// What 'default' denies. A name the architecture does not have (iopl on arm64) is skipped.
// clang-format off
constexpr Denied kDefaultDeny[] = {
    // Namespaces. A new user namespace needs no privilege and is the first step of most kernel
    // exploits. The other namespace flags need CAP_SYS_ADMIN, which the capabilities step drops
    // unless it is kept; a caller that keeps it may use them.
    {"clone",                   EPERM,  Check::kNewUserNs},
    {"unshare",                 EPERM,  Check::kNewUserNs},
    {"clone3",                  ENOSYS, Check::kAlways},  // glibc falls back to clone
    {"setns",                   EPERM,  Check::kAlways},
    // Mounts, old and new API.
    {"mount",                   EPERM,  Check::kAlways},
    {"umount2",                 EPERM,  Check::kAlways},
    {"pivot_root",              EPERM,  Check::kAlways},
    {"fsopen",                  EPERM,  Check::kAlways},
    {"fsconfig",                EPERM,  Check::kAlways},
    {"fsmount",                 EPERM,  Check::kAlways},
    {"fspick",                  EPERM,  Check::kAlways},
    {"open_tree",               EPERM,  Check::kAlways},
    {"open_tree_attr",          EPERM,  Check::kAlways},
    {"move_mount",              EPERM,  Check::kAlways},
    {"mount_setattr",           EPERM,  Check::kAlways},
    // Kernel keyrings: not namespaced, shared with the host.
    {"add_key",                 EPERM,  Check::kAlways},
    {"request_key",             EPERM,  Check::kAlways},
    {"keyctl",                  EPERM,  Check::kAlways},
    // Other processes' memory and files.
    {"ptrace",                  EPERM,  Check::kAlways},
    {"process_vm_readv",        EPERM,  Check::kAlways},
    {"process_vm_writev",       EPERM,  Check::kAlways},
    {"process_madvise",         EPERM,  Check::kAlways},
    {"pidfd_getfd",             EPERM,  Check::kAlways},
    {"kcmp",                    EPERM,  Check::kAlways},
    // Large kernel attack surface for a program that needs none of it.
    {"bpf",                     EPERM,  Check::kAlways},
    {"perf_event_open",         EPERM,  Check::kAlways},
    {"userfaultfd",             EPERM,  Check::kAlways},
    {"open_by_handle_at",       EPERM,  Check::kAlways},  // reads any file by inode handle
    {"fanotify_init",           EPERM,  Check::kAlways},
    {"lookup_dcookie",          EPERM,  Check::kAlways},
    // The host itself: modules, reboot, kexec, swap, accounting, quotas, clock, names, log.
    {"init_module",             EPERM,  Check::kAlways},
    {"finit_module",            EPERM,  Check::kAlways},
    {"delete_module",           EPERM,  Check::kAlways},
    {"kexec_load",              EPERM,  Check::kAlways},
    {"kexec_file_load",         EPERM,  Check::kAlways},
    {"reboot",                  EPERM,  Check::kAlways},
    {"swapon",                  EPERM,  Check::kAlways},
    {"swapoff",                 EPERM,  Check::kAlways},
    {"acct",                    EPERM,  Check::kAlways},
    {"quotactl",                EPERM,  Check::kAlways},
    {"quotactl_fd",             EPERM,  Check::kAlways},
    {"settimeofday",            EPERM,  Check::kAlways},
    {"clock_settime",           EPERM,  Check::kAlways},
    {"sethostname",             EPERM,  Check::kAlways},
    {"setdomainname",           EPERM,  Check::kAlways},
    {"syslog",                  EPERM,  Check::kAlways},  // the kernel log, addresses included
    {"vhangup",                 EPERM,  Check::kAlways},
    {"iopl",                    EPERM,  Check::kAlways},  // x86 port I/O
    {"ioperm",                  EPERM,  Check::kAlways},
    // NUMA memory policy (Docker: CAP_SYS_NICE only).
    {"mbind",                   EPERM,  Check::kAlways},
    {"set_mempolicy",           EPERM,  Check::kAlways},
    {"set_mempolicy_home_node", EPERM,  Check::kAlways},
    {"get_mempolicy",           EPERM,  Check::kAlways},
    {"migrate_pages",           EPERM,  Check::kAlways},
    {"move_pages",              EPERM,  Check::kAlways},
    // LSM attributes (Docker: CAP_SYS_ADMIN only).
    {"lsm_get_self_attr",       EPERM,  Check::kAlways},
    {"lsm_set_self_attr",       EPERM,  Check::kAlways},
    {"lsm_list_modules",        EPERM,  Check::kAlways},
    // Obsolete calls some kernels still implement.
    {"uselib",                  EPERM,  Check::kAlways},
    {"ustat",                   EPERM,  Check::kAlways},
    {"sysfs",                   EPERM,  Check::kAlways},
    {"_sysctl",                 EPERM,  Check::kAlways},
    // Numbers without an implementation in today's kernels (ENOSYS from the kernel), which
    // Docker's profile leaves out too: denied, so an old or patched kernel that has them does
    // not expose them.
    {"create_module",           EPERM,  Check::kAlways},
    {"get_kernel_syms",         EPERM,  Check::kAlways},
    {"query_module",            EPERM,  Check::kAlways},
    {"nfsservctl",              EPERM,  Check::kAlways},
    {"afs_syscall",             EPERM,  Check::kAlways},
    {"tuxcall",                 EPERM,  Check::kAlways},
    {"security",                EPERM,  Check::kAlways},
    {"vserver",                 EPERM,  Check::kAlways},
    {"getpmsg",                 EPERM,  Check::kAlways},
    {"putpmsg",                 EPERM,  Check::kAlways},
    // Newer than Docker's profile, which leaves it out: lists the namespaces a program can see,
    // nothing a tool needs.
    {"listns",                  EPERM,  Check::kAlways},
    // By argument, as Docker: personality flags that weaken the process (ADDR_NO_RANDOMIZE,
    // READ_IMPLIES_EXEC, ...); the kernel crypto API and vsock sockets.
    {"personality",             EPERM,  Check::kPersonality},
    {"socket",                  EPERM,  Check::kSocketFamily},
};
// clang-format on

// io_uring submits its work from kernel threads, past a socket filter (IORING_OP_SOCKET,
// IORING_OP_CONNECT): denied whenever the network is not the host's (Policy::denyIoUring).
constexpr const char* kIoUring[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};

// PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query), as Docker.
constexpr uint32_t kAllowedPersonas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

constexpr uint32_t kX32SyscallBit = 0x40000000;

// The number of a call on this architecture, -1 if it has none (a sorted index, built once).
int NumberOf(const char* name) {
  static const std::map<std::string, int> index = [] {
    std::map<std::string, int> m;
    for (const SyscallNumber& s : kSyscallNumbers) {
      if (s.*kColumn >= 0) m.emplace(s.name, s.*kColumn);
    }
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

// What the filter does for one system call number.
struct Action {
  bool allow = true;
  int err = 0;
  Check check = Check::kAlways;

  bool operator==(const Action& o) const {
    return allow == o.allow && err == o.err && check == o.check;
  }
};

using Code = std::vector<sock_filter>;

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}
uint32_t ReturnErrno(int err) {
  return SECCOMP_RET_ERRNO | (static_cast<uint32_t>(err) & SECCOMP_RET_DATA);
}

// The low 32 bits of argument 0 (little-endian); clone flags, unshare flags, the personality and
// the socket family all fit in them.
constexpr uint32_t kArg0 = offsetof(struct seccomp_data, args[0]);

// The instructions that end the filter for one number (A holds the number on entry).
void EmitLeaf(const Action& a, bool unixSocketsOnly, Code* out) {
  if (a.allow) {
    out->push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    return;
  }
  switch (a.check) {
    case Check::kAlways: out->push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(a.err))); return;
    case Check::kNewUserNs:
      out->push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kArg0));
      out->push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1));
      out->push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(a.err)));
      out->push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
      return;
    case Check::kPersonality: {
      constexpr uint8_t n = sizeof kAllowedPersonas / sizeof kAllowedPersonas[0];
      out->push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kArg0));
      for (uint8_t i = 0; i < n; i++)  // a match jumps past the others and the deny, to allow
        out->push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kAllowedPersonas[i], n - i, 0));
      out->push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(a.err)));
      out->push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
      return;
    }
    case Check::kSocketFamily:
      out->push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kArg0));
      if (unixSocketsOnly) {
        // EAFNOSUPPORT, what a kernel built without the family answers (systemd's
        // RestrictAddressFamilies answers the same): programs that probe for IPv6 or fall back
        // between families read it as "not here", not as a fault.
        out->push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0));
        out->push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(EAFNOSUPPORT)));
      } else {
        out->push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AF_ALG, 1, 0));
        out->push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 0, 1));
        out->push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(a.err)));
      }
      out->push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
      return;
  }
}

// A run of consecutive numbers [start, next range's start) that share one action.
struct Range {
  uint32_t start;
  Action action;
};

// A balanced binary search over the ranges: about log2(ranges) comparisons per call, so the
// filter costs the same for every call, and the kernel's per-number cache of always-allowed
// calls (5.11+, computed when the filter is attached) is quick to compute.
void EmitTree(const std::vector<Range>& ranges, size_t lo, size_t hi, bool unixSocketsOnly,
              Code* out) {
  if (hi - lo == 1) {
    EmitLeaf(ranges[lo].action, unixSocketsOnly, out);
    return;
  }
  size_t mid = lo + (hi - lo) / 2;
  Code left, right;
  EmitTree(ranges, lo, mid, unixSocketsOnly, &left);
  EmitTree(ranges, mid, hi, unixSocketsOnly, &right);
  // nr >= ranges[mid].start goes right. A conditional jump reaches 255 instructions at most;
  // past that an unconditional one (32-bit offset) skips the left half.
  if (left.size() <= 255) {
    out->push_back(
        Jump(BPF_JMP | BPF_JGE | BPF_K, ranges[mid].start, static_cast<uint8_t>(left.size()), 0));
  } else {
    out->push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, ranges[mid].start, 0, 1));
    out->push_back(Stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(left.size())));
  }
  out->insert(out->end(), left.begin(), left.end());
  out->insert(out->end(), right.begin(), right.end());
}

std::shared_ptr<Filter> Build(const std::map<int, Action>& byNumber, bool unixSocketsOnly) {
  // Number ranges: gaps allowed, neighbours with the same action merged.
  std::vector<Range> ranges;
  auto add = [&ranges](uint32_t start, const Action& a) {
    if (!ranges.empty() && ranges.back().start == start) ranges.pop_back();  // empty gap
    if (!ranges.empty() && ranges.back().action == a) return;
    ranges.push_back({start, a});
  };
  add(0, Action{});
  for (const auto& [nr, action] : byNumber) {
    add(static_cast<uint32_t>(nr), action);
    add(static_cast<uint32_t>(nr) + 1, Action{});
  }

  auto f = std::make_shared<Filter>();
  Code& c = f->code;
  // The architecture first: numbers mean different calls in another ABI.
  c.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  c.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0));
  c.push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(EPERM)));
  c.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
  // x32 calls arrive with the x86-64 arch and bit 30 set in the number.
  c.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 0, 1));
  c.push_back(Stmt(BPF_RET | BPF_K, ReturnErrno(EPERM)));
#else
  (void)kX32SyscallBit;
#endif
  EmitTree(ranges, 0, ranges.size(), unixSocketsOnly, &c);
  if (c.size() > BPF_MAXINSNS) return nullptr;
  f->program.len = static_cast<unsigned short>(c.size());
  f->program.filter = c.data();
  return f;
}

std::mutex cacheLock;
std::map<std::string, std::shared_ptr<const Filter>> cache;
constexpr size_t kCacheMax = 64;

}  // namespace

std::vector<std::string> SyscallNames() {
  std::vector<std::string> out;
  if (!kSupported) return out;
  for (const SyscallNumber& s : kSyscallNumbers) {
    if (s.*kColumn >= 0) out.push_back(s.name);
  }
  return out;
}

bool IsKnownSyscall(const std::string& name) { return kSupported && NumberOf(name.c_str()) >= 0; }

std::shared_ptr<const Filter> FilterFor(const Policy& policy, std::string* unknown) {
  unknown->clear();
  if (!kSupported) return nullptr;
  // The key is the policy as given, normalized (the table itself is the same for every spawn):
  // a cache hit costs one short string, not a walk of the tables.
  std::vector<std::string> deny = policy.deny;
  std::sort(deny.begin(), deny.end());
  deny.erase(std::unique(deny.begin(), deny.end()), deny.end());
  std::string key = policy.denyIoUring ? "i" : "-";
  key += policy.unixSocketsOnly ? "u" : "-";
  for (const std::string& name : deny) key += ',' + name;
  std::lock_guard<std::mutex> hold(cacheLock);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;

  std::map<int, Action> byNumber;
  for (const Denied& d : kDefaultDeny) {
    int nr = NumberOf(d.name);
    if (nr >= 0) byNumber[nr] = Action{false, d.err, d.check};
  }
  if (policy.denyIoUring) {
    for (const char* name : kIoUring) byNumber[NumberOf(name)] = Action{false, EPERM};
  }
  for (const std::string& name : deny) {
    int nr = NumberOf(name.c_str());
    if (nr < 0) {
      *unknown = name;
      return nullptr;
    }
    // Denied whole: an argument check of the default table gives way; a call the table already
    // denies whole keeps its answer (clone3 stays ENOSYS).
    Action& a = byNumber[nr];
    if (a.allow || a.check != Check::kAlways) a = Action{false, EPERM};
  }
  std::shared_ptr<const Filter> f = Build(byNumber, policy.unixSocketsOnly);
  if (!f) return nullptr;
  if (cache.size() >= kCacheMax) cache.erase(cache.begin());  // holders keep theirs alive
  cache.emplace(key, f);
  return f;
}

bool ProbeFilter() {
  if (!kSupported) return false;
  if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) return false;  // no CONFIG_SECCOMP
  uint32_t action = SECCOMP_RET_ERRNO;
  return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

long Install(const sock_fprog* program) {
  return sys::Ret(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, program));
}

}  // namespace seccomp
}  // namespace confine
