// The supervisor's own process id, asked of the kernel once. glibc (2.25+) no longer caches
// getpid(), and the spawn and exit paths need it on every child (the child's getppid check, the
// exit watch's kcmp): a system call each, 8-15 us in place on a busy core.
#pragma once

#include <sys/types.h>

namespace confine {

// getpid(), cached. The id changes only across fork(): a pthread_atfork child handler forgets
// it there, so a supervisor forked by glibc's fork() asks again. Our own clones never run this
// (the child reads the id from its plan). _Fork(), vfork(), posix_spawn() and a raw clone() skip
// the fork handlers: a child made so by other code that went on to call this addon without exec
// would see its parent's id (nothing in Node runs on after such a fork; node-pty's forkpty child
// execs at once). Where the handler could not be registered, every call is a getpid().
pid_t OwnPid();

}  // namespace confine
