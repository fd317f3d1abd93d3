#!/usr/bin/env bash
# npm run test:cgroup2 [-- more test files]
#
# Runs the cgroup suite on a pure cgroup v2 kernel: builds the TypeScript on the host, then
# boots ONE throwaway VM (scripts/cgroup2-vm.sh) that runs ONE `node --test` over
# test/cgroup.test.mjs, linux-cgroup, lifecycle, adversarial (cgroup cases), delegation (non-root
# supervisors), isolation and the kernel guards (guards, guards-native: the VM's older kernel has
# an older Landlock ABI, so the fallbacks run there), worker-exit (a terminated worker's trees:
# their task cgroups removed after the reap) plus any given. Exit status: the tests'; 125 when
# the VM failed. Needs root and apt (first run: ~30 s of installs and downloads).
#   CONFINE_SKIP_BUILD=1   use dist/ as it is
#   CONFINE_VM_ARGS="..."  extra options for cgroup2-vm.sh (e.g. "--cpus 2 --mem 2G -v")
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CONFINE_SKIP_BUILD:-}" ]; then
  # As npm run build:ts: the bin is tsc's dist/cli.js bundled by finish-build.js.
  npx tsc -p tsconfig.json && node scripts/finish-build.js
fi
[ "${1:-}" != -- ] || shift
files=(test/cgroup.test.mjs test/linux-cgroup.test.mjs test/lifecycle.test.mjs test/adversarial.test.mjs test/delegation.test.mjs test/isolation.test.mjs test/guards.test.mjs test/guards-native.test.mjs test/worker-exit.test.mjs)
for f in "$@"; do [[ " ${files[*]} " == *" $f "* ]] || files+=("$f"); done
start=$(date +%s%N)
rc=0
# shellcheck disable=SC2086
scripts/cgroup2-vm.sh ${CONFINE_VM_ARGS:-} -- node --test --test-concurrency=1 "${files[@]}" || rc=$?
echo "test:cgroup2: exit $rc after $(( ($(date +%s%N) - start) / 1000000 )) ms (VM boot included)" >&2
exit $rc
