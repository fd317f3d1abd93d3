// What this kernel offers, measured by calling it.
#pragma once

namespace confine {

struct Features {
  bool pidfd = false;
  bool clone3 = false;
  bool cloneIntoCgroup = false;
  bool closeRange = false;
  bool pidfdSendSignal = false;
  bool kqueue = false;
  bool seccompFilter = false;  // a seccomp filter can be installed (Linux)
  int landlockAbi = 0;         // Landlock's ABI version; 0: none (Linux)
  int capLastCap = -1;         // the highest capability number the kernel knows (Linux)
};

Features ProbeFeatures();
// "linux", "darwin", ... as process.platform spells it.
const char* PlatformName();

}  // namespace confine
