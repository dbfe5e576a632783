"""Time per call of verify_license, runner_check and hub_status from Python, on the scene
the Rust benchmark made (crates/tessera/benches/bindings.rs reads the one JSON line
printed)."""

import json
import os
import time
from pathlib import Path

import tessera

BATCHES = 15
CALLS = 200
TRUST = tessera.TrustSet(Path(os.environ["TESSERA_SCENE_TRUST"]).read_text())
LICENSE = Path(os.environ["TESSERA_SCENE_LICENSE"]).read_text()
NOW = int(os.environ["TESSERA_SCENE_NOW"])
RUNNER = os.environ["TESSERA_SCENE_RUNNER_STATE"]
HUB = os.environ["TESSERA_SCENE_HUB_SOCKET"]


def best_per_call(call):
    """The best of the batches' mean time per call."""
    best = float("inf")
    for _ in range(BATCHES):
        start = time.perf_counter_ns()
        for _ in range(CALLS):
            if not call().permits_running:
                raise RuntimeError("the check said no")
        best = min(best, (time.perf_counter_ns() - start) / CALLS)
    return best


verify_ns = best_per_call(lambda: tessera.verify_license(LICENSE, TRUST, now=NOW))
runner_ns = best_per_call(lambda: tessera.runner_check(RUNNER, keystore="keyutils", now=NOW))
# The hub agent's latest time is the wall clock's: asked at the system time (no `now`).
hub_ns = best_per_call(lambda: tessera.hub_status(HUB, TRUST))
print(json.dumps({"verify_ns": verify_ns, "runner_ns": runner_ns, "hub_ns": hub_ns}))
