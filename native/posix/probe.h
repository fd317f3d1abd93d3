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
};

Features ProbeFeatures();
// "linux", "darwin", ... as process.platform spells it.
const char* PlatformName();

}  // namespace confine
