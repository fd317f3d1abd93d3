#!/usr/bin/env node
// The prebuilds the package promises (README: linux x64/arm64 for glibc and musl, macOS arm64,
// Windows x64), and whether prebuilds/ holds them. npm runs this before `npm pack` and
// `npm publish` (prepack): a tarball packed on one machine holds that machine's prebuild only,
// and installs elsewhere would fall back to a build from source or to the pure-JS backend, so
// the pack says which ones are missing. Only the release workflow (.github/workflows/release.yml)
// gathers all six, one runner per platform; it runs this with --strict, which fails instead.
//
//   node scripts/check-prebuilds.js            warn on stderr about missing prebuilds, exit 0
//   node scripts/check-prebuilds.js --strict   exit 1 when any is missing
//
// require('./check-prebuilds.js').PREBUILDS is the list (test/docs.test.mjs compares the README).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** Each promised prebuild: where prebuildify puts it, and the platform as the README names it. */
const PREBUILDS = [
  { file: 'linux-x64/confine.glibc.node', platform: 'linux x64 (glibc)' },
  { file: 'linux-x64/confine.musl.node', platform: 'linux x64 (musl)' },
  { file: 'linux-arm64/confine.glibc.node', platform: 'linux arm64 (glibc)' },
  { file: 'linux-arm64/confine.musl.node', platform: 'linux arm64 (musl)' },
  { file: 'darwin-arm64/confine.node', platform: 'macOS arm64' },
  { file: 'win32-x64/confine.node', platform: 'Windows x64' },
];

/** The promised prebuilds that are missing (or empty) under `dir`. */
function missingPrebuilds(dir) {
  return PREBUILDS.filter((p) => {
    try {
      return fs.statSync(path.join(dir, p.file)).size === 0;
    } catch {
      return true;
    }
  });
}

function main() {
  const strict = process.argv.includes('--strict');
  const dir = path.join(__dirname, '..', 'prebuilds');
  const missing = missingPrebuilds(dir);
  if (missing.length === 0) {
    // stderr: `npm pack --json` prints its JSON on stdout, after this.
    console.error(`check-prebuilds: all ${PREBUILDS.length} prebuilds are in prebuilds/`);
    return 0;
  }
  const lines = [
    `${strict ? 'error' : 'warning'}: prebuilds/ holds ${PREBUILDS.length - missing.length} of the ${PREBUILDS.length} prebuilds the README promises; missing:`,
    ...missing.map((p) => `  prebuilds/${p.file}  (${p.platform})`),
    'Installs there build from source (or fall back to the pure-JS backend). The release workflow',
    '(.github/workflows/release.yml) gathers every platform; see docs/releasing.md.',
  ];
  console.error(lines.join('\n'));
  return strict ? 1 : 0;
}

module.exports = { PREBUILDS, missingPrebuilds };
if (require.main === module) process.exitCode = main();
