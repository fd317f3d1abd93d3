// errno numbers to their symbolic names ("EPERM"), the form the JS side reports.
#pragma once

namespace confine {

// The name of an errno value, or nullptr when this table does not know it (the caller then
// formats "E<number>"). Static storage; never allocates.
const char* ErrnoName(int err);

}  // namespace confine
