// Whether the process environment (environ) changed: lets the JS side build a child's
// environment from process.env once, and again only after a change.
#pragma once

#include <stdint.h>

namespace confine {

// A number that changes whenever the contents of environ differ from the last call's (every
// entry compared byte for byte, so an entry changed in place counts too). Starts at 1. Not
// thread-safe: called from the main JS thread only (where process.env is environ).
uint64_t EnvironGeneration();

}  // namespace confine
