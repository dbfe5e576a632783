#!/usr/bin/env bash
# What each binding links and weighs: for the C shared library (default features and
# verify-only), the Node.js addon and the Python extension, the crates in its dependency tree
# and the size of its release build, stripped. Prints the rows of BENCHMARKS.md's
# "Package size" table.
#
#   bash benches/package_sizes.sh [SOURCE_TREE]
#
# SOURCE_TREE (default: this checkout) lets the same script measure another commit's
# worktree (`git worktree add ../before <commit>`); a tree whose tessera-c has no cargo
# features has no verify-only build, and its row says so. CARGO_TARGET_DIR is honoured, so a
# second tree can reuse the third-party crates already built.
#
# Crates: `cargo tree -e normal --prefix none` (no build or dev dependencies), each package
# once ("tree"); "linked" leaves out the procedural macros and what only they use
# (`-e normal,no-proc-macro`), which run in the compiler and are not in the library.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(cd "${1:-$here}" && pwd)"
cd "$tree"
target="${CARGO_TARGET_DIR:-$tree/target}"
out="$target/package-sizes"
mkdir -p "$out"

has_features() { grep -q '^\[features\]' crates/tessera-c/Cargo.toml; }

count() { # package, edges, extra cargo flags…
  local package="$1" edges="$2"
  shift 2
  cargo tree -q -e "$edges" --prefix none -p "$package" "$@" | sed 's/ (\*)$//' | sort -u | wc -l
}

measure() { # label, package, artifact file name, extra cargo flags…
  local label="$1" package="$2" file="$3"
  shift 3
  cargo build -q --release -p "$package" "$@"
  local copy
  copy="$out/$(echo "$label" | tr ' ' '-').so"
  strip -o "$copy" "$target/release/$file"
  local bytes
  bytes=$(stat -c %s "$copy")
  printf '| %s | %s | %s | %s MB (%s bytes) |\n' "$label" \
    "$(count "$package" normal "$@")" "$(count "$package" normal,no-proc-macro "$@")" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e6 }')" "$bytes"
}

echo "source: $(git -C "$tree" rev-parse --short HEAD), $(rustc --version)"
echo '| binding | crates (tree) | crates (linked) | stripped size |'
echo '|---|---|---|---|'
measure 'C shared library' tessera-c libtessera_c.so
if has_features; then
  measure 'C verify-only' tessera-c libtessera_c.so --no-default-features
else
  echo '| C verify-only | (no such build) | | |'
fi
measure 'Node.js addon' tessera-node libtessera_node.so
measure 'Python extension' tessera-python lib_tessera.so
