"""Every argument of every call, checked: a wrong type is a TypeError naming the argument; a
value the library refuses (empty, NUL, nan, infinite, negative, out of range) is TesseraError
with code ``bad_argument``, naming it; an unknown keyword is Python's own TypeError. Then the
hub call's deadline against an agent that accepts and never answers. Run by
tests/python/main.rs with a vendor's trust set and license (no scene)."""

import math
import os
import socket as sockets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

import tessera


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through tests/python/main.rs")
    return value


TRUST_TEXT = Path(env("TESSERA_TEST_TRUST")).read_text()
TRUST = tessera.TrustSet(TRUST_TEXT)
LICENSE = Path(env("TESSERA_TEST_LICENSE")).read_text()
PRODUCT = env("TESSERA_TEST_PRODUCT")
NOW = int(env("TESSERA_TEST_NOW"))
NO_HUB = "/nonexistent/hub.sock"
NO_RUNNER = "/nonexistent/runner-state"

Call = Callable[[], Any]

# (what is wrong, the call, the argument the message names)
WRONG_TYPE: List[Tuple[str, Call, str]] = [
    ("TrustSet of an int", lambda: tessera.TrustSet(42), "text"),
    ("TrustSet of a path", lambda: tessera.TrustSet(Path("vendor.pub")), "text"),
    ("license an int", lambda: tessera.verify_license(12, TRUST), "license"),
    ("license a path", lambda: tessera.verify_license(Path("acme.license"), TRUST), "license"),
    ("trust the text", lambda: tessera.verify_license(LICENSE, TRUST_TEXT), "trust"),
    ("trust None", lambda: tessera.verify_license(LICENSE, None), "trust"),
    ("product an int", lambda: tessera.verify_license(LICENSE, TRUST, product=7), "product"),
    ("product bytes", lambda: tessera.verify_license(LICENSE, TRUST, product=b"acme-hub"), "product"),
    ("now a float", lambda: tessera.verify_license(LICENSE, TRUST, now=NOW + 0.5), "now"),
    ("now nan", lambda: tessera.verify_license(LICENSE, TRUST, now=math.nan), "now"),
    ("now inf", lambda: tessera.verify_license(LICENSE, TRUST, now=math.inf), "now"),
    ("now a str", lambda: tessera.verify_license(LICENSE, TRUST, now=str(NOW)), "now"),
    ("now a bool", lambda: tessera.verify_license(LICENSE, TRUST, now=True), "now"),
    ("state_dir an int", lambda: tessera.runner_check(3), "state_dir"),
    ("state_dir None", lambda: tessera.runner_check(None), "state_dir"),
    ("keystore an int", lambda: tessera.runner_check(NO_RUNNER, keystore=1), "keystore"),
    ("tolerance a str", lambda: tessera.runner_check(NO_RUNNER, tolerance_secs="5"), "tolerance_secs"),
    ("tolerance a bool", lambda: tessera.runner_check(NO_RUNNER, tolerance_secs=True), "tolerance_secs"),
    ("runner now a float", lambda: tessera.runner_check(NO_RUNNER, now=1.5), "now"),
    ("socket an int", lambda: tessera.hub_status(7, TRUST), "socket"),
    ("hub trust a str", lambda: tessera.hub_status(NO_HUB, TRUST_TEXT), "trust"),
    ("timeout a str", lambda: tessera.hub_status(NO_HUB, TRUST, timeout="2"), "timeout"),
    ("timeout a bool", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=True), "timeout"),
    ("hub now a float", lambda: tessera.hub_status(NO_HUB, TRUST, now=float(NOW)), "now"),
]

REFUSED: List[Tuple[str, Call, str]] = [
    ("now negative", lambda: tessera.verify_license(LICENSE, TRUST, now=-1), "now"),
    ("now past the year 9999", lambda: tessera.verify_license(LICENSE, TRUST, now=253402300800), "now"),
    ("now past 64 bits", lambda: tessera.verify_license(LICENSE, TRUST, now=2**70), "now"),
    ("product empty", lambda: tessera.verify_license(LICENSE, TRUST, product=""), "product"),
    ("product with a NUL", lambda: tessera.verify_license(LICENSE, TRUST, product="acme\0hub"), "product"),
    ("product no product id", lambda: tessera.verify_license(LICENSE, TRUST, product="Not A Product!"), "product"),
    ("state_dir empty", lambda: tessera.runner_check(""), "state_dir"),
    ("state_dir with a NUL", lambda: tessera.runner_check("/var/lib\0/runner"), "state_dir"),
    ("keystore unknown", lambda: tessera.runner_check(NO_RUNNER, keystore="floppy"), "keystore"),
    ("keystore empty", lambda: tessera.runner_check(NO_RUNNER, keystore=""), "keystore"),
    ("tolerance negative", lambda: tessera.runner_check(NO_RUNNER, tolerance_secs=-1), "tolerance_secs"),
    ("tolerance nan", lambda: tessera.runner_check(NO_RUNNER, tolerance_secs=math.nan), "tolerance_secs"),
    ("runner now negative", lambda: tessera.runner_check(NO_RUNNER, now=-5), "now"),
    ("socket empty", lambda: tessera.hub_status("", TRUST), "socket"),
    ("socket with a NUL", lambda: tessera.hub_status("/run/hub\0.sock", TRUST), "socket"),
    ("socket bytes with a NUL", lambda: tessera.hub_status(b"/run/hub\0.sock", TRUST), "socket"),
    ("hub product empty", lambda: tessera.hub_status(NO_HUB, TRUST, product=""), "product"),
    ("timeout zero", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=0), "timeout"),
    ("timeout negative", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=-1.0), "timeout"),
    ("timeout nan", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=math.nan), "timeout"),
    ("timeout inf", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=math.inf), "timeout"),
    ("timeout over an hour", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=3600.5), "timeout"),
    ("timeout huge", lambda: tessera.hub_status(NO_HUB, TRUST, timeout=10**400), "timeout"),
    ("hub tolerance inf", lambda: tessera.hub_status(NO_HUB, TRUST, tolerance_secs=math.inf), "tolerance_secs"),
    ("tolerance past a duration", lambda: tessera.runner_check(NO_RUNNER, tolerance_secs=1e300), "tolerance_secs"),
    ("hub tolerance past 64 bits", lambda: tessera.hub_status(NO_HUB, TRUST, tolerance_secs=10**30), "tolerance_secs"),
    ("hub now out of range", lambda: tessera.hub_status(NO_HUB, TRUST, now=-1), "now"),
]

UNKNOWN_KEYWORD: List[Tuple[str, Call, str]] = [
    ("verify prodct", lambda: tessera.verify_license(LICENSE, TRUST, prodct="other"), "prodct"),
    ("runner keystor", lambda: tessera.runner_check(NO_RUNNER, keystor="keyutils"), "keystor"),
    ("hub timeout_secs", lambda: tessera.hub_status(NO_HUB, TRUST, timeout_secs=1.0), "timeout_secs"),
    ("hub timeout_ms", lambda: tessera.hub_status(NO_HUB, TRUST, timeout_ms=100), "timeout_ms"),
    ("product positional", lambda: tessera.verify_license(LICENSE, TRUST, PRODUCT), "positional"),
    ("no trust", lambda: tessera.verify_license(LICENSE), "trust"),
    ("no socket", lambda: tessera.hub_status(), "socket"),
]


def speaks_python(message: str) -> None:
    for rust in ("Rust", "PyString", "PyAny", "i64", "f64", "u64", "PathBuf", "extract", "Vec<"):
        assert rust not in message, message


@pytest.mark.parametrize("what,call,argument", WRONG_TYPE, ids=[r[0] for r in WRONG_TYPE])
def test_a_wrong_type_is_a_type_error_naming_the_argument(what: str, call: Call, argument: str) -> None:
    with pytest.raises(TypeError) as e:
        call()
    assert str(e.value).startswith(f"{argument} must be "), str(e.value)
    speaks_python(str(e.value))


@pytest.mark.parametrize("what,call,argument", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_refused_value_is_bad_argument_naming_it(what: str, call: Call, argument: str) -> None:
    with pytest.raises(tessera.TesseraError) as e:
        call()
    assert e.value.code == "bad_argument", (e.value.code, str(e.value))
    assert str(e.value).startswith(f"{argument}: "), str(e.value)
    speaks_python(str(e.value))


@pytest.mark.parametrize("what,call,argument", UNKNOWN_KEYWORD, ids=[r[0] for r in UNKNOWN_KEYWORD])
def test_an_unknown_or_missing_argument_is_pythons_type_error(what: str, call: Call, argument: str) -> None:
    with pytest.raises(TypeError) as e:
        call()
    assert argument in str(e.value), str(e.value)


def test_every_accepted_form_is_accepted_no_wrong_no() -> None:
    assert tessera.TrustSet(TRUST_TEXT.encode()) is not None
    for text in (LICENSE, LICENSE.encode(), bytearray(LICENSE.encode())):
        check = tessera.verify_license(text, TRUST, product=PRODUCT, now=NOW)
        assert (check.status, check.permits_running) == ("valid", True), check.reason
    assert tessera.verify_license(LICENSE, TRUST, product=None, now=None).status == "valid"
    assert tessera.verify_license(LICENSE, TRUST, product="other-product", now=NOW).status == "wrong_product"
    assert tessera.verify_license(LICENSE, TRUST, now=0).status == "not_yet_valid"
    # Right arguments reach the socket: the error is the socket's, never the arguments'.
    for where in (NO_HUB, Path(NO_HUB), NO_HUB.encode()):
        for timeout in (None, 0.001, 1, 3600):
            with pytest.raises(tessera.TesseraError) as e:
                tessera.hub_status(where, TRUST, product=PRODUCT, tolerance_secs=0, timeout=timeout, now=NOW)
            assert e.value.code == "hub_unreachable", str(e.value)
    for state in (NO_RUNNER, Path(NO_RUNNER), NO_RUNNER.encode()):
        try:
            check = tessera.runner_check(state, keystore="keyutils", tolerance_secs=1.5, now=NOW)
            assert check.status == "no_license", check.reason
        except tessera.TesseraError as e:
            # Without a session keyring the check is made as far as the keystore.
            assert e.code == "keystore", str(e)


def test_the_status_words_are_the_statuses_every_check_answers() -> None:
    assert len(tessera.STATUSES) == 19 and len(set(tessera.STATUSES)) == 19
    assert tessera.PERMITTING == ("valid", "grace")
    for at in (0, NOW, 253402300799):
        assert tessera.verify_license(LICENSE, TRUST, now=at).status in tessera.STATUSES


def test_hub_status_keeps_its_timeout_against_an_agent_that_never_answers() -> None:
    """A generous margin for a loaded machine; the lower bound shows that the deadline given
    is the one kept, not a default."""
    with tempfile.TemporaryDirectory() as dir:
        path = os.path.join(dir, "status.sock")
        server = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
        server.bind(path)
        server.listen(8)
        held: List[sockets.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.05)
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])
                except OSError:
                    pass

        acceptor = threading.Thread(target=accept)
        acceptor.start()
        try:
            for timeout in (0.3, 1.5):
                started = time.monotonic()
                with pytest.raises(tessera.TesseraError) as e:
                    tessera.hub_status(path, TRUST, timeout=timeout, now=NOW)
                took = time.monotonic() - started
                assert e.value.code in ("hub_unreachable", "timeout"), str(e.value)
                assert timeout - 0.02 <= took < timeout + 2.0, f"{took} s for a {timeout} s deadline"
        finally:
            stop.set()
            acceptor.join()
            for connection in held:
                connection.close()
            server.close()


class _Index:
    """An integer type that is no int, as numpy's are: it has ``__index__``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class _BrokenPath:
    """A path object whose ``__fspath__`` fails with the caller's own error."""

    def __fspath__(self) -> str:
        raise RuntimeError("the vendor's own failure")


def test_other_integer_types_and_memoryviews_are_accepted_no_wrong_no() -> None:
    # What the stubs allow (SupportsIndex, memoryview) the runtime takes.
    check = tessera.verify_license(memoryview(LICENSE.encode()), TRUST, product=PRODUCT, now=_Index(NOW))
    assert check.status == "valid", check.reason
    assert tessera.TrustSet(memoryview(TRUST_TEXT.encode())) is not None
    assert tessera.verify_license(LICENSE, TRUST, now=_Index(0)).status == "not_yet_valid"
    with pytest.raises(tessera.TesseraError) as e:
        tessera.hub_status(NO_HUB, TRUST, tolerance_secs=_Index(5), timeout=_Index(1), now=_Index(NOW))
    assert e.value.code == "hub_unreachable", str(e.value)
    # An integer type is still checked: out of range is bad_argument, a bool a TypeError.
    with pytest.raises(tessera.TesseraError) as refused:
        tessera.verify_license(LICENSE, TRUST, now=_Index(-1))
    assert refused.value.code == "bad_argument" and str(refused.value).startswith("now: ")
    with pytest.raises(TypeError):
        tessera.hub_status(NO_HUB, TRUST, timeout=False)


def test_a_path_whose_fspath_fails_raises_the_callers_own_error() -> None:
    with pytest.raises(RuntimeError, match="the vendor's own failure"):
        tessera.runner_check(_BrokenPath())


def test_windows_line_endings_and_a_bom_are_no_wrong_no() -> None:
    crlf = TRUST_TEXT.replace("\n", "\r\n")
    for trust_text in (crlf, "\ufeff" + TRUST_TEXT, ("\ufeff" + crlf).encode()):
        trust = tessera.TrustSet(trust_text)
        check = tessera.verify_license(LICENSE, trust, product=PRODUCT, now=NOW)
        assert check.status == "valid", check.reason
    # A license's signed bytes are exact: one converted to CR LF is refused, and says how
    # to mend it.
    license_crlf = LICENSE.replace("\n", "\r\n").encode()
    check = tessera.verify_license(license_crlf, TRUST, product=PRODUCT, now=NOW)
    assert check.status == "malformed" and "convert it to LF" in check.reason, check.reason
