"""A hub application written in Python gates its start-up and features on the hub's standing
(docs/INTEGRATION.md); checked with ``mypy --strict`` and run by the test suite:
python examples/hub.py /var/lib/tessera-hub/status.sock"""

import os
import sys
from pathlib import Path

import tessera

# The vendor's public keys, shipped inside the product (here: a file beside it).
TRUST = tessera.TrustSet(Path(os.environ.get("VENDOR_TRUST_FILE", "vendor.pub")).read_text())


def main() -> int:
    socket = sys.argv[1] if len(sys.argv) > 1 else "/var/lib/tessera-hub/status.sock"
    try:
        hub = tessera.hub_status(socket, TRUST, product="acme-hub", timeout=2.0)
    except tessera.TesseraError as e:
        # No answer at all: the license agent is not running, or this user may not ask it.
        print(f"cannot ask the license agent ({e.code}): {e}", file=sys.stderr)
        return 69
    print(f"license {hub.status}: {hub.reason}")
    if not hub.permits_running or hub.license is None:
        return 1
    if hub.status == "grace":
        print(f"warning: the license server has not been reached; {hub.grace_left_secs} seconds of grace left")
    if hub.license.has_feature("sso"):
        print("single sign-on enabled")
    print(f"up to {hub.license.runner_limit} runners")
    return 0


if __name__ == "__main__":
    sys.exit(main())
