#!/usr/bin/env bash
# In-process checks from Rust, Node.js and Python against spawning `tessera-runner check`,
# all in one run (issue 17). Builds the release addon, wheel and binaries first, then runs
# crates/tessera/benches/bindings.rs, which prints the table for BENCHMARKS.md.
# Needs: keyutils (keyctl), Node.js, python3; maturin comes from TESSERA_PYTHON_TOOLS (a
# virtual environment with maturin, as .ci/run makes) or is installed into target/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${TESSERA_PYTHON_TOOLS:-$PWD/target/ci-tools/python}"
if [ ! -x "$tools/bin/maturin" ]; then
  python3 -m venv "$tools" && "$tools/bin/pip" install -q 'maturin==1.16.0'
fi
cargo build --release -p tessera-cli -p tessera-portal -p tessera-hub -p tessera-runner -p tessera-node
rm -rf target/bench-bindings && mkdir -p target/bench-bindings
cp target/release/libtessera_node.so target/bench-bindings/tessera.node
(cd crates/tessera-python && "$tools/bin/maturin" build --release --quiet --out ../../target/bench-bindings/wheels)
python3 -m venv target/bench-bindings/venv
target/bench-bindings/venv/bin/pip install -q --disable-pip-version-check --no-index \
  --find-links target/bench-bindings/wheels tessera-license
TESSERA_NODE_ADDON="$PWD/target/bench-bindings/tessera.node" \
TESSERA_BENCH_PYTHON="$PWD/target/bench-bindings/venv/bin/python" \
  cargo bench -p tessera --bench bindings
