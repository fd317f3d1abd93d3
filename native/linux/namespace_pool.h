// Spare namespaces, made ahead of time by a thread of their own so that a spawn does not pay for
// them: a network namespace is the costliest part of an isolated clone (its loopback device,
// sysctl tables and per-namespace state), an IPC namespace the next (its mqueue mount).
//
// Why this is safe: a spare is new and empty (nothing ever ran in it), only its fd exists
// (O_CLOEXEC, held by the pool until one spawn takes it and closes it once the child has joined),
// and each is used once. Joining one with setns needs CAP_SYS_ADMIN over it, so only a root
// supervisor (whose namespaces belong to the initial user namespace) uses them; a user namespace's
// child cannot join a namespace owned by another user namespace, and makes its own in the clone.
#pragma once

namespace confine {
namespace nspool {

enum class Kind { kNet, kNetLoopback, kIpc };

// A spare of that kind (an O_CLOEXEC fd the caller owns), or -1 when none is ready. The maker
// thread (started on first use) keeps `kSpares` of each kind it was asked for ready: woken on a
// kind's first use and whenever half of its spares are taken.
int Take(Kind kind);

}  // namespace nspool
}  // namespace confine
