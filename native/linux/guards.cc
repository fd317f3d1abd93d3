#include "guards.h"

#include <errno.h>

namespace confine {

namespace {

std::vector<landlock::PathRule> PathRules(const std::vector<GuardRequest::PathRule>& in) {
  std::vector<landlock::PathRule> out;
  for (const auto& r : in)
    out.push_back({r.path, r.write ? landlock::Access::kWrite : landlock::Access::kRead});
  return out;
}

}  // namespace

bool PrepareGuards(const GuardRequest& req, int stdioCount, PreparedGuards* out,
                   GuardFailure* why) {
  if (req.capabilities) {
    out->child.capabilities = true;
    out->child.caps.keep = req.keepCapabilities;
    out->child.caps.lastCap = caps::LastCap();
  }

  if (req.landlock) {
    landlock::Policy policy;
    for (const auto& r : req.landlockRules) {
      policy.rules.push_back(
          {r.path, r.write ? landlock::Access::kWrite : landlock::Access::kRead, r.dev, r.ino});
    }
    policy.denyTcp = req.landlockDenyTcp;
    policy.scopeSignals = req.landlockScopeSignals;
    policy.scopeAbstractUnix = req.landlockScopeAbstractUnix;
    landlock::Failure f;
    if (!landlock::Prepare(policy, PathRules(req.landlockTreeRules),
                           PathRules(req.landlockChildRules), stdioCount, &out->landlock, &f)) {
      *why = {"landlock", f.syscall, f.err};
      return false;
    }
    out->child.landlock = true;
    out->child.landlockPlan = out->landlock.child;
  }

  if (req.seccomp) {
    seccomp::Policy policy;
    policy.deny = req.seccompDeny;
    policy.denyIoUring = req.seccompDenyIoUring;
    policy.unixSocketsOnly = req.seccompUnixSocketsOnly;
    std::string unknown;
    out->filter = seccomp::FilterFor(policy, &unknown);
    if (!out->filter) {
      // addon.cc checked the names; what is left: an architecture without a filter (ENOSYS),
      // or a program past the kernel's 4096 instructions (E2BIG).
      int err = !unknown.empty() ? EINVAL : seccomp::ProbeFilter() ? E2BIG : ENOSYS;
      *why = {"seccomp", "seccomp", err};
      return false;
    }
    out->child.seccomp = &out->filter->program;
  }
  return true;
}

}  // namespace confine
