// Capabilities of a uid-0 child. The order of Apply is forced by the kernel's rules:
//   1. the bounding set first: dropping needs CAP_SETPCAP in the effective set, which capset
//      below removes (unless kept);
//   2. securebits, for the same reason (CAP_SETPCAP): NOROOT (execve no longer grants uid 0 every
//      capability), NO_SETUID_FIXUP (changing uids neither grants nor clears capabilities: the
//      sets stay what is set here), KEEP_CAPS off; each with its _LOCKED bit so the program
//      cannot undo them;
//   3. capset: effective = permitted = inheritable = the kept set;
//   4. ambient raise of each kept one (it must be permitted and inheritable by now): with
//      NOROOT, the ambient set is what the program has after execve.
// With no_new_privs set afterwards (step 9), a setuid or file-capability binary adds nothing.
#include "capabilities.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../posix/child_sys.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif

namespace confine {
namespace caps {
namespace {

// linux/capability.h, in number order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
constexpr const char* kNames[] = {
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
};
constexpr int kCount = sizeof kNames / sizeof kNames[0];

constexpr unsigned long kSecurebits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
                                      SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                                      SECBIT_KEEP_CAPS_LOCKED;

}  // namespace

std::vector<std::string> Names() { return std::vector<std::string>(kNames, kNames + kCount); }

bool FromName(const std::string& name, int* number) {
  std::string n;
  for (char ch : name) n += static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  if (n.compare(0, 4, "cap_") == 0) n.erase(0, 4);
  for (int i = 0; i < kCount; i++) {
    if (n == kNames[i]) {
      *number = i;
      return true;
    }
  }
  return false;
}

int LastCap() {
  static const int last = [] {
    int cap = 0;
    while (cap < 63 && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0) cap++;
    return cap;
  }();
  return last;
}

long Apply(const ChildPlan& plan, Syscall* failed) {
  long r;
  *failed = Syscall::kPrctl;
  for (int cap = 0; cap <= plan.lastCap; cap++) {
    if (plan.keep & (1ULL << cap)) continue;
    if ((r = sys::Ret(syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0))) < 0) return r;
  }
  if ((r = sys::Ret(syscall(SYS_prctl, PR_SET_SECUREBITS, kSecurebits, 0, 0, 0))) < 0) return r;

  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    uint32_t word = static_cast<uint32_t>(plan.keep >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  *failed = Syscall::kCapset;
  if ((r = sys::Ret(syscall(SYS_capset, &header, data))) < 0) return r;

  *failed = Syscall::kPrctl;
  for (int cap = 0; cap <= plan.lastCap; cap++) {
    if (!(plan.keep & (1ULL << cap))) continue;
    r = sys::Ret(syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
    if (r < 0) return r;
  }
  return 0;
}

}  // namespace caps
}  // namespace confine
