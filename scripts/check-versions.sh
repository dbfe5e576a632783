#!/usr/bin/env bash
# Every crate and package carries the workspace's version (Cargo.toml [workspace.package]),
# and CHANGELOG.md has a section for it. Prints each mismatch and exits 1 if there is one.
# Usage: scripts/check-versions.sh [REPO_ROOT]   (scripts/set-version.sh changes them all)
set -euo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root"
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
if [ -z "$version" ]; then
  echo "Cargo.toml: no version in [workspace.package]" >&2
  exit 1
fi
bad=0
mismatch() { echo "$1: $2 (the workspace version is $version)" >&2; bad=1; }

# Every crate takes the workspace's version.
for manifest in $(git ls-files '*Cargo.toml' | grep -v '^fuzz/'); do
  [ "$manifest" = Cargo.toml ] && continue
  if ! grep -q '^version.workspace = true' "$manifest"; then
    mismatch "$manifest" "its own version (want version.workspace = true)"
  fi
done

# npm: the main package, its optional platform packages and each platform package.
for manifest in $(git ls-files 'crates/tessera-node/package.json' 'crates/tessera-node/npm/*/package.json'); do
  while IFS= read -r line; do
    mismatch "$manifest" "$line"
  done < <(node -e '
    const [file, want] = process.argv.slice(1);
    const p = require(require("path").resolve(file));
    if (p.version !== want) console.log(`version ${p.version}`);
    for (const [name, v] of Object.entries(p.optionalDependencies || {}))
      if (v !== want) console.log(`optional dependency ${name} at ${v}`);
  ' "$manifest" "$version")
done

# npm's lock file: the package and its platform packages.
while IFS= read -r line; do
  mismatch crates/tessera-node/package-lock.json "$line"
done < <(node -e '
  const [file, want] = process.argv.slice(1);
  const lock = require(require("path").resolve(file));
  for (const [path, entry] of Object.entries(lock.packages))
    if ((path === "" || path.startsWith("node_modules/@tessera/node-")) && entry.version !== want)
      console.log(`${path || "the package"} at ${entry.version}`);
' crates/tessera-node/package-lock.json "$version")

# Python: maturin takes the version from Cargo (dynamic), never a second literal.
pyproject=crates/tessera-python/pyproject.toml
if grep -q '^version *=' "$pyproject"; then
  mismatch "$pyproject" "a literal version (want dynamic = [\"version\"])"
elif ! grep -q '^dynamic = .*"version"' "$pyproject"; then
  mismatch "$pyproject" "no dynamic version"
fi

# The changelog says what this version changes.
if ! grep -q "^## \[$version\]" CHANGELOG.md; then
  mismatch CHANGELOG.md "no section \"## [$version]\""
fi

if [ "$bad" -ne 0 ]; then
  exit 1
fi
echo "every crate and package is at $version"
