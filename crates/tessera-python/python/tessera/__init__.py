"""Tessera's license checks, in process.

- ``verify_license(text, trust, product=..., now=...)``: a license file against the vendor's
  trust set;
- ``runner_check(state_dir, keystore=..., now=...)``: whether this runner may run, offline;
- ``hub_status(socket, trust, product=..., timeout=..., now=...)``: the hub's standing,
  decided here from the local hub agent's signed evidence.

Each returns a ``Check`` whose ``status`` is the command-line tools' word (``Status``:
``valid``, ``grace``, ``expired``, ``revoked``...). A call that cannot be made raises
``TesseraError`` with a stable ``code``; an argument of the wrong type raises ``TypeError``.
See docs/INTEGRATION.md.
"""

from ._tessera import (
    Check,
    License,
    TesseraError,
    TrustSet,
    hub_status,
    runner_check,
    verify_license,
)
from ._words import PERMITTING, STATUSES, ErrorCode, Mode, Status

__all__ = [
    "Check",
    "ErrorCode",
    "License",
    "Mode",
    "PERMITTING",
    "STATUSES",
    "Status",
    "TesseraError",
    "TrustSet",
    "hub_status",
    "runner_check",
    "verify_license",
]
