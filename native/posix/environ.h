// Whether the process environment (environ) changed: lets the JS side build a child's
// environment from process.env once, and again only after a change.
#pragma once

#include <stdint.h>

namespace confine {

// A number that changes whenever the contents of environ differ from the last call's (every
// entry compared byte for byte, so an entry changed in place counts too). Starts at 1. Not
// thread-safe: called from the main JS thread only (where process.env is environ).
uint64_t EnvironGeneration();

// Whether the caller runs on the process's initial thread: Node's main thread, whose
// process.env is environ (a worker's is a copy of its own). Asked of the kernel (gettid ==
// getpid on Linux, pthread_main_np on macOS), so the JS side need not load worker_threads
// (about 3 ms of every `confine run`) to learn it. false where neither exists: no cache there.
bool OnInitialThread();

}  // namespace confine
