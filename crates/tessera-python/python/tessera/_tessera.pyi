"""Typed stubs of the extension module (kept beside the Rust source, src/lib.rs)."""

import os
from typing import List, Optional, SupportsIndex, Union

from ._words import ErrorCode, Mode, Status

_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
_Text = Union[str, bytes, bytearray, memoryview]
_Seconds = Union[float, SupportsIndex]

class TesseraError(Exception):
    """A check that could not be made: ``bad_argument``, ``bad_trust``, ``keystore``,
    ``io``, ``hub_unreachable`` or ``bad_answer``."""

    code: ErrorCode

class TrustSet:
    """A vendor's trust set (its public keys): parse once, pass to every check."""

    def __init__(self, text: _Text) -> None: ...

class License:
    """A license's terms (never its key)."""

    @property
    def id(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def product(self) -> str: ...
    @property
    def features(self) -> List[str]: ...
    @property
    def runner_limit(self) -> int: ...
    @property
    def issued_at(self) -> int: ...
    @property
    def not_before(self) -> int: ...
    @property
    def expires_at(self) -> int: ...
    @property
    def terminates_at(self) -> Optional[int]: ...
    @property
    def grace_period_secs(self) -> int: ...
    @property
    def ping_interval_secs(self) -> int: ...
    def has_feature(self, feature: str) -> bool: ...

class Check:
    """A check's answer."""

    @property
    def status(self) -> Status: ...
    @property
    def reason(self) -> str: ...
    @property
    def permits_running(self) -> bool: ...
    @property
    def grace_left_secs(self) -> Optional[int]: ...
    @property
    def license(self) -> Optional[License]: ...
    @property
    def runner(self) -> Optional[str]: ...
    @property
    def lease_expires_at(self) -> Optional[int]: ...
    @property
    def mode(self) -> Optional[Mode]: ...
    @property
    def runners_leased(self) -> Optional[int]: ...
    @property
    def agent_status(self) -> Optional[Status]: ...

def verify_license(
    license: _Text,
    trust: TrustSet,
    *,
    product: Optional[str] = None,
    now: Optional[SupportsIndex] = None,
) -> Check: ...
def runner_check(
    state_dir: _Path,
    *,
    keystore: Optional[str] = None,
    tolerance_secs: Optional[_Seconds] = None,
    now: Optional[SupportsIndex] = None,
) -> Check: ...
def hub_status(
    socket: _Path,
    trust: TrustSet,
    *,
    product: Optional[str] = None,
    tolerance_secs: Optional[_Seconds] = None,
    timeout: Optional[_Seconds] = None,
    now: Optional[SupportsIndex] = None,
) -> Check: ...
