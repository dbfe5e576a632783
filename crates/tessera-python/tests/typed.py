"""What the stubs promise a product's Python, checked by ``mypy --strict`` (never run): the
status words are a closed ``Literal``; a misspelt word or keyword is a type error (each
``type: ignore`` below must be needed, or mypy --strict says it is unused)."""

from typing import NoReturn, Optional

import tessera


def unknown(word: NoReturn) -> NoReturn:
    raise AssertionError(word)


def may_run(status: tessera.Status) -> bool:
    """A product's own exhaustive decision: a new word in ``Status`` breaks the check."""
    match status:
        case "valid" | "grace":
            return True
        case (
            "expired"
            | "terminated"
            | "not_yet_valid"
            | "bad_signature"
            | "unknown_key"
            | "malformed"
            | "fingerprint_mismatch"
            | "revoked"
            | "suspended"
            | "runner_limit_exceeded"
            | "grace_expired"
            | "clock_rollback"
            | "tampered"
            | "no_license"
            | "wrong_product"
            | "cloned"
            | "unrecognized"
        ):
            return False
        case _:
            unknown(status)


def verdict(text: str, trust: tessera.TrustSet) -> tessera.Status:
    check = tessera.verify_license(text, trust, product="acme-hub", now=1_800_000_000)
    if check.status == "valdi":  # type: ignore[comparison-overlap]
        return "unrecognized"
    return check.status


def offline(check: tessera.Check) -> bool:
    mode: Optional[tessera.Mode] = check.mode
    return mode == "offline"


def misspelt(trust: tessera.TrustSet) -> tessera.Check:
    return tessera.hub_status("/run/tessera-hub/status.sock", trust, prodct="acme-hub")  # type: ignore[call-arg]


def fractional(trust: tessera.TrustSet) -> tessera.Check:
    return tessera.verify_license("", trust, now=1.5)  # type: ignore[arg-type]


def code(e: tessera.TesseraError) -> tessera.ErrorCode:
    return e.code
