#!/usr/bin/env bash
# Instructions per license verification against a raw ed25519-dalek verify of the same
# signed bytes, counted by callgrind: exact and repeatable on a noisy shared machine.
# Usage: benches/verify-instructions.sh [N]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
cargo build --release --locked -q -p tessera-core --example verify_cost
bin=target/release/examples/verify_cost
count() { # mode iterations -> total instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A per
for mode in raw raw-strict tessera; do
  base=$(count "$mode" 0)
  total=$(count "$mode" "$n")
  per[$mode]=$(( (total - base) / n ))
  printf '%-11s %9d instructions per verification\n' "$mode" "${per[$mode]}"
done
awk -v t="${per[tessera]}" -v r="${per[raw]}" -v s="${per[raw-strict]}" \
  'BEGIN { printf "tessera / raw verify        = %.3f\ntessera / raw verify_strict = %.3f\n", t/r, t/s }'
