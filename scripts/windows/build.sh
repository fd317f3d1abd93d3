#!/usr/bin/env bash
# scripts/windows/build.sh — cross-build the addon for win-x64 with mingw-w64.
# Output: <cache>/build/<hash of the checkout path>/confine.node, path printed on stdout; kept
# out of build/, which node-gyp rebuild wipes (static: needs no DLL besides Windows' own; N-API is imported
# from the host executable through a delay-load import library and scripts/windows/delay_load_hook.cc).
# Objects are rebuilt only when their source or a header changed. Runs setup.sh first.
# Env: CONFINE_WIN_CACHE (default ~/.cache/confine-win), OUT (output dir), OPT (-O2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$ROOT/scripts/windows/setup.sh")"
OUT=${OUT:-$CACHE/build/$(printf %s "$ROOT" | md5sum | cut -c1-12)}; OBJ=$OUT/obj; mkdir -p "$OBJ"
CXX=x86_64-w64-mingw32-g++
FLAGS=(-std=c++17 ${OPT:--O2} -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
       -fno-exceptions -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -DNAPI_VERSION=8 -DBUILDING_NODE_EXTENSION
       -DWIN32 -DUNICODE -D_UNICODE -DWIN32_LEAN_AND_MEAN -DNOMINMAX -D_WIN32_WINNT=0x0A00
       -I"$NODE_INC" -I"$NAA" -I"$ROOT/native")
SRCS=("$ROOT/native/addon_win.cc" "$ROOT"/native/win/*.cc "$ROOT/scripts/windows/delay_load_hook.cc")
newest_header=$(ls -t "$ROOT"/native/win/*.h | head -1)
objs=(); pids=()
for src in "${SRCS[@]}"; do
  o=$OBJ/$(basename "${src%.cc}").o; objs+=("$o")
  if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$newest_header" -nt "$o" ] || [ "$0" -nt "$o" ]; then
    echo "[build] $CXX -c ${src#$ROOT/}" >&2
    "$CXX" "${FLAGS[@]}" -c "$src" -o "$o" & pids+=($!)
    if [ ${#pids[@]} -ge "$(nproc)" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
ADDON=$OUT/confine.node
need_link=0; [ -f "$ADDON" ] || need_link=1
for o in "${objs[@]}"; do [ "$o" -nt "$ADDON" ] && need_link=1; done
if [ $need_link = 1 ]; then
  echo "[build] link ${ADDON#$ROOT/}" >&2
  "$CXX" -shared -static -s -o "$ADDON" "${objs[@]}" -L"$IMPLIB" -lnode-delay \
    -ladvapi32 -luser32 -lbcrypt -lkernel32
fi
echo "$ADDON"
