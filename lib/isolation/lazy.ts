// The isolation modules, loaded by the first tree that asks for isolate(): a run without it never
// loads them (test/cli.test.mjs checks what a plain run loads). Kept once loaded: a start asks
// for them several times, and require() resolves its path again on every call.

let isolationModule: typeof import('./index.js') | null = null;
let guardsModule: typeof import('./guards.js') | null = null;

export function isolationLayer(): typeof import('./index.js') {
  isolationModule ??= require('./index.js') as typeof import('./index.js');
  return isolationModule;
}

export function guardsLayer(): typeof import('./guards.js') {
  guardsModule ??= require('./guards.js') as typeof import('./guards.js');
  return guardsModule;
}
