"""The words a check answers: ``Literal`` types for type checkers, tuples for code."""

from typing import Literal, Tuple, get_args

Status = Literal[
    "valid",
    "grace",
    "expired",
    "terminated",
    "not_yet_valid",
    "bad_signature",
    "unknown_key",
    "malformed",
    "fingerprint_mismatch",
    "revoked",
    "suspended",
    "runner_limit_exceeded",
    "grace_expired",
    "clock_rollback",
    "tampered",
    "no_license",
    "wrong_product",
    "cloned",
    "unrecognized",
]
"""Every status word a check answers (docs/INTEGRATION.md says what each means)."""

STATUSES: Tuple[Status, ...] = get_args(Status)
"""The words of ``Status``, in the order of the command-line tools' exit codes."""

PERMITTING: Tuple[Status, ...] = ("valid", "grace")
"""The words that permit running."""

Mode = Literal["online", "offline", "none"]
"""Where a hub's evidence comes from: pings to the portal, an offline activation, or none."""

ErrorCode = Literal["bad_argument", "bad_trust", "keystore", "io", "hub_unreachable", "bad_answer"]
"""The ``code`` of a ``TesseraError``."""
