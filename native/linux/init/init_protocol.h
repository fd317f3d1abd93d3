// What the supervisor and the init (native/linux/init/init.cc) agree on, besides the error pipe's
// ChildError record (native/posix/child.h).
#pragma once

namespace confine {

// The sigqueue value that marks a signal for every process of the tree: the init sends it on
// with kill(-1) inside its namespace instead of forwarding it to the program alone. Any other
// signal the init can catch goes to the program.
constexpr int kTreeSignal = 0x636f6e66;  // "conf"

// The init's argv: [kInitName, error-pipe fd, status-pipe fd, program path, program argv...].
// On the program's end it writes the program's wait status (an int, 4 bytes, as wait4 gives it)
// to the status pipe, then exits 0.
constexpr const char* kInitName = "confine-init";

}  // namespace confine
