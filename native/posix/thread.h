// The addon's own helper threads (exit waiters, the reaper): detached, on a small stack, and
// started with every signal blocked.
#pragma once

#include <stddef.h>

namespace confine {

// Starts fn(arg) on a detached thread with a stack of stackBytes (they only wait, reap and make
// a few system calls: the default 8 MiB would be waste). Every signal is blocked in it (a new
// thread inherits its creator's mask, set around the creation): such a thread must not take
// process-directed signals away from the threads that handle them. 0 or pthread_create's error.
int StartHelperThread(void* (*fn)(void*), void* arg, size_t stackBytes);

}  // namespace confine
