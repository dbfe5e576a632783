#!/usr/bin/env bash
# Sets the one version: Cargo.toml's [workspace.package] (every crate inherits it; the Python
# wheel reads it through maturin; the C library's tessera_version() is built from it), then the
# npm manifests, which must carry a literal. Add the CHANGELOG.md section by hand.
# Usage: scripts/set-version.sh 0.2.0
set -euo pipefail
new="${1:?usage: scripts/set-version.sh VERSION}"
cd "$(dirname "$0")/.."
# MAJOR.MINOR.PATCH only: the C library's version check (tessera_version_check) and its
# SONAME read exactly that.
if ! [[ "$new" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]]; then
  echo "not a version of the form MAJOR.MINOR.PATCH: $new" >&2
  exit 2
fi
sed -i "/^\[workspace.package\]/,/^\[/s/^version = \".*\"/version = \"$new\"/" Cargo.toml
for manifest in crates/tessera-node/package.json crates/tessera-node/npm/*/package.json; do
  node -e '
    const fs = require("fs");
    const [file, want] = process.argv.slice(1);
    const p = JSON.parse(fs.readFileSync(file, "utf8"));
    p.version = want;
    for (const name of Object.keys(p.optionalDependencies || {})) p.optionalDependencies[name] = want;
    fs.writeFileSync(file, JSON.stringify(p, null, 2) + "\n");
  ' "$manifest" "$new"
done
# The lock file's own entries for the package and its (unpublished) platform packages.
node -e '
  const fs = require("fs");
  const [file, want] = process.argv.slice(1);
  const lock = JSON.parse(fs.readFileSync(file, "utf8"));
  lock.version = want;
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || path.startsWith("node_modules/@tessera/node-")) entry.version = want;
    for (const name of Object.keys(entry.optionalDependencies || {}))
      if (name.startsWith("@tessera/node-")) entry.optionalDependencies[name] = want;
  }
  fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
' crates/tessera-node/package-lock.json "$new"
cargo update --workspace --offline >/dev/null
echo "version set to $new; now add \"## [$new]\" to CHANGELOG.md and run scripts/check-versions.sh"
