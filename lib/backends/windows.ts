// The windows backend: every child starts suspended inside a Job Object of its own, so limits
// hold and the whole tree can be stopped; see docs/native-win.md for the addon's surface.
// (Being written: until then this backend reports itself unavailable.)

export {};
