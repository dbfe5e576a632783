#!/usr/bin/env bash
# In-process checks from Rust, Node.js, Python and C against spawning `tessera-runner check`
# and `tessera-hub status`, all in one run. Builds the release binaries, addon, wheel, C
# library and C program first, then runs crates/tessera/benches/bindings.rs, which prints the
# table for BENCHMARKS.md ("In-process checks").
# Needs: keyutils (keyctl), Node.js, python3, gcc; maturin comes from TESSERA_PYTHON_TOOLS (a
# virtual environment with maturin, as .ci/run makes) or is installed into target/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${TESSERA_PYTHON_TOOLS:-$PWD/target/ci-tools/python}"
if [ ! -x "$tools/bin/maturin" ]; then
  python3 -m venv "$tools" && "$tools/bin/pip" install -q 'maturin==1.16.0'
fi
cargo build --release -p tessera-cli -p tessera-portal -p tessera-hub -p tessera-runner-agent \
  -p tessera-node -p tessera-c
out=target/bench-bindings
rm -rf "$out" && mkdir -p "$out"
cp target/release/libtessera_node.so "$out/tessera.node"
# The C program as a product builds it: the generated header and the static library.
gcc -std=c11 -O2 -Wall -Wextra -Werror -I target/release/include -o "$out/calls-c" \
  crates/tessera-c/bench/calls.c target/release/libtessera_c.a -lpthread -ldl -lm
(cd crates/tessera-python && "$tools/bin/maturin" build --release --quiet --out "../../$out/wheels")
python3 -m venv "$out/venv"
"$out/venv/bin/pip" install -q --disable-pip-version-check --no-index \
  --find-links "$out/wheels" tessera-license
TESSERA_NODE_ADDON="$PWD/$out/tessera.node" \
TESSERA_BENCH_PYTHON="$PWD/$out/venv/bin/python" \
TESSERA_BENCH_C="$PWD/$out/calls-c" \
  cargo bench -p tessera --bench bindings
