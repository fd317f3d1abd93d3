// What isolation this kernel allows this process, measured by doing it in a throwaway child:
// new namespaces, the user namespace's id maps, mounts, a fresh procfs, loopback up.
#pragma once

namespace confine {

struct IsolationProbe {
  // Each an errno: 0 when the step worked, -1 when it was not tried (an earlier step failed).
  struct Path {
    int clone = -1;  // clone with every namespace at once
    int user = -1;   // each namespace alone (with the user namespace where used)
    int mount = -1;
    int pid = -1;
    int net = -1;
    int ipc = -1;
    int uts = -1;
    int uidMap = -1;    // setgroups "deny", gid_map and uid_map of a new user namespace
    int mounts = -1;    // mount propagation private, a tmpfs
    int proc = -1;      // a fresh procfs of a new pid namespace
    int loopback = -1;  // lo up in a new network namespace
  };
  Path direct;  // without a user namespace (tried as root only)
  Path userns;  // inside a new user namespace, mapping the process's own ids
  bool directTried = false;
  bool mountSetattr = false;  // Linux 5.12: recursive read-only binds
  bool openat2 = false;       // Linux 5.6: bind sources opened without following symlinks
};

// Measured once per call: two short-lived children (one without a user namespace, as root
// only). Costs about a millisecond; lib/ caches the answer.
IsolationProbe ProbeIsolation();

}  // namespace confine
