#!/bin/sh
# Same-run A/B of verifying a 1,000,000-entry audit ledger export: the hash chain verifier
# the Merkle tree replaced (commit 2122b8f, built from git history into its own directory
# and target) against this tree's, run in turns so that both see the same machine.
#
#   benches/ledger-ab.sh [ROUNDS]      (default 3; BENCHMARKS.md has the figures)
set -eu
rounds=${1:-3}
baseline=2122b8f
root=$(git rev-parse --show-toplevel)
old=${TMPDIR:-/tmp}/tessera-ledger-chain-$baseline
if [ ! -f "$old/Cargo.toml" ]; then
    mkdir -p "$old"
    git -C "$root" archive "$baseline" | tar -x -C "$old"
    # That commit's benchmark still delegated with a receipt delegation, which its own
    # verifier had come to refuse (heads need a LEDGER DELEGATION): only the harness is
    # mended, the verifier is as it was.
    sed -i 's/delegation::sign(&claims, &vendor)/delegation::sign_for(delegation::Purpose::Ledger, \&claims, \&vendor)/' \
        "$old/crates/tessera-core/benches/verify.rs"
fi
filter='ledger/(verify|read and verify) 1,000,000 entries'
echo "== building the chain verifier ($baseline) in $old"
(cd "$old" && CARGO_TARGET_DIR="$old/target" cargo bench --offline -p tessera-core --bench verify --no-run)
echo "== building this tree's"
(cd "$root" && cargo bench -p tessera-core --bench verify --no-run)
i=1
while [ "$i" -le "$rounds" ]; do
    echo "== round $i: chain ($baseline)"
    (cd "$old" && CARGO_TARGET_DIR="$old/target" cargo bench --offline -p tessera-core --bench verify -- --noplot "$filter") | grep -E "^ledger/|time:"
    echo "== round $i: Merkle tree ($(git -C "$root" rev-parse --short HEAD))"
    (cd "$root" && cargo bench -p tessera-core --bench verify -- --noplot "$filter") | grep -E "^ledger/|time:"
    i=$((i + 1))
done
