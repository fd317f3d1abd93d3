#!/usr/bin/env bash
# scripts/windows/test.sh [FILES...] — build the addon for win-x64 and run test/windows/*.test.js
# with a Windows node.exe under Wine (node --test). Exit code = the test run's.
# node.exe under Wine cannot have a Linux pipe as stdio (open EBADF): its output goes to files
# that are printed afterwards. The Wine prefix's processes are stopped at the end (wineserver -k
# for this prefix only).
# Env: CONFINE_WIN_CACHE, TIMEOUT (default 300 s), NODE_TEST_ARGS (extra args for node --test).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T0=$(date +%s)
ADDON=$(bash "$ROOT/scripts/windows/build.sh") || { echo "[test:windows] build failed" >&2; exit 1; }
eval "$(bash "$ROOT/scripts/windows/setup.sh" 2>/dev/null)"
# No WINEDLLOVERRIDES here: with mscoree/mshtml disabled, Wine 8's explorer.exe /desktop dies and a
# process that touches user32's windows (EnumWindows) never finishes exiting.
export WINEPREFIX WINEDEBUG=${WINEDEBUG:--all}
winpath() { echo "Z:$(realpath "$1" | sed 's#/#\\#g')"; }
export CONFINE_WIN_ADDON=$(winpath "$ADDON")
if [ $# -gt 0 ]; then FILES=("$@"); else FILES=("$ROOT"/test/windows/*.test.js); fi
WFILES=(); for f in "${FILES[@]}"; do WFILES+=("$(winpath "$f")"); done
LOG=$(mktemp -d)
cleanup() { wineserver -k 2>/dev/null; wineserver -w 2>/dev/null; rm -rf "$LOG"; }
trap cleanup EXIT
echo "[test:windows] wine node.exe --test ${#WFILES[@]} file(s); addon $CONFINE_WIN_ADDON" >&2
( cd "$ROOT" && timeout -k 10 "${TIMEOUT:-300}" wine "$NODE_EXE" --test --test-concurrency=1 \
    ${NODE_TEST_ARGS:-} "${WFILES[@]}" </dev/null >"$LOG/out" 2>"$LOG/err" )
RC=$?
cat "$LOG/out"; cat "$LOG/err" >&2
[ $RC = 124 ] && echo "[test:windows] timed out after ${TIMEOUT:-300} s" >&2
echo "[test:windows] exit code $RC, $(( $(date +%s) - T0 )) s" >&2
exit $RC
