#!/usr/bin/env node
// npm install hook: load a prebuild or build the addon from source (node-gyp-build). A failed
// build must not fail the install: confine then runs on its pure-JS backend and
// capabilities().reason says why.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const bin = require.resolve('node-gyp-build/bin.js');
const r = spawnSync(process.execPath, [bin], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
if (r.status !== 0) {
  console.warn(
    'confine: the native addon could not be built or loaded; the pure-JS "universal" backend ' +
      'will be used. Run `npx confine doctor` to see what that means for your limits.',
  );
}
process.exit(0);
