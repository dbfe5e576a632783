"""The wheel on the test kit's scene (real portal, hub agents and a runner on the kernel
keyring), run by tests/python/main.rs with pytest in a fresh virtual environment. Tests run
in file order: the runner's checks move its clock forward."""

import os
from pathlib import Path

import pytest

import tessera


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through tests/python/main.rs")
    return value


TRUST = tessera.TrustSet(Path(env("TESSERA_SCENE_TRUST")).read_text())
NOW = int(env("TESSERA_SCENE_NOW"))
GRACE_AT = int(env("TESSERA_SCENE_GRACE_AT"))
PAST_GRACE_AT = int(env("TESSERA_SCENE_PAST_GRACE_AT"))
PRODUCT = env("TESSERA_SCENE_PRODUCT")
LICENSE = Path(env("TESSERA_SCENE_LICENSE")).read_text()
HUB = env("TESSERA_SCENE_HUB_SOCKET")
RUNNER = env("TESSERA_SCENE_RUNNER_STATE")


def test_a_valid_license_verifies_with_its_terms():
    check = tessera.verify_license(LICENSE, TRUST, product=PRODUCT, now=NOW)
    assert check.status == "valid", check.reason
    assert check.permits_running
    assert check.license.id == env("TESSERA_SCENE_LICENSE_ID")
    assert check.license.features == env("TESSERA_SCENE_FEATURES").split(",")
    assert check.license.has_feature("sso") and not check.license.has_feature("nope")
    assert check.license.runner_limit == int(env("TESSERA_SCENE_RUNNER_LIMIT"))
    assert not hasattr(check.license, "key"), "the license key never leaves the library"
    assert tessera.verify_license(LICENSE.encode(), TRUST, now=NOW).status == "valid"


def test_a_tampered_an_expired_and_another_products_license_are_refused():
    tampered = tessera.verify_license(Path(env("TESSERA_SCENE_TAMPERED")).read_bytes(), TRUST, now=NOW)
    assert (tampered.status, tampered.permits_running, tampered.license) == ("bad_signature", False, None)
    expired = tessera.verify_license(LICENSE, TRUST, now=int(env("TESSERA_SCENE_EXPIRED_AT")))
    assert expired.status == "expired"
    assert expired.license.id == env("TESSERA_SCENE_LICENSE_ID")
    assert tessera.verify_license(LICENSE, TRUST, product="other-product", now=NOW).status == "wrong_product"


def test_a_call_that_cannot_be_made_raises_with_a_stable_code():
    with pytest.raises(tessera.TesseraError) as e:
        tessera.TrustSet("not a trust set")
    assert e.value.code == "bad_trust"
    with pytest.raises(tessera.TesseraError) as e:
        tessera.verify_license(LICENSE, TRUST, product="Not A Product!")
    assert e.value.code == "bad_argument"
    with pytest.raises(tessera.TesseraError) as e:
        tessera.runner_check("/tmp", keystore="floppy")
    assert e.value.code == "bad_argument"
    with pytest.raises(tessera.TesseraError) as e:
        tessera.hub_status("/nonexistent/hub.sock", TRUST)
    assert e.value.code == "hub_unreachable" and "/nonexistent/hub.sock" in str(e.value)
    with pytest.raises(TypeError):
        tessera.verify_license(12, TRUST)


def test_the_hub_application_decides_from_the_agent():
    valid = tessera.hub_status(HUB, TRUST, product=PRODUCT, now=NOW)
    assert (valid.status, valid.mode, valid.agent_status) == ("valid", "online", "valid"), valid.reason
    assert valid.license.features == env("TESSERA_SCENE_FEATURES").split(",")
    grace = tessera.hub_status(Path(HUB), TRUST, product=PRODUCT, now=GRACE_AT)
    assert grace.status == "grace" and grace.permits_running, grace.reason
    assert grace.grace_left_secs > 20 * 3600
    assert tessera.hub_status(HUB, TRUST, now=PAST_GRACE_AT).status == "grace_expired"
    revoked = tessera.hub_status(env("TESSERA_SCENE_REVOKED_HUB_SOCKET"), TRUST, now=NOW)
    assert (revoked.status, revoked.permits_running) == ("revoked", False), revoked.reason


def test_a_runner_checks_offline_valid_then_grace_then_grace_expired():
    valid = tessera.runner_check(RUNNER, keystore="keyutils", now=NOW)
    assert valid.status == "valid", valid.reason
    assert valid.runner == "scene-runner"
    assert "sso" in valid.license.features
    grace = tessera.runner_check(RUNNER, keystore="keyutils", now=GRACE_AT)
    assert grace.status == "grace" and grace.grace_left_secs > 20 * 3600, grace.reason
    assert tessera.runner_check(RUNNER, keystore="keyutils", now=PAST_GRACE_AT).status == "grace_expired"
    # A time passed in decides the answer only: it never becomes the runner's latest time
    # seen, so the check at the real time is still valid...
    assert tessera.runner_check(RUNNER, keystore="keyutils", now=NOW).status == "valid"
    # ...and a time far behind what the runner has really seen is a rolled-back clock.
    assert tessera.runner_check(RUNNER, keystore="keyutils", now=NOW - 86_400).status == "clock_rollback"


def test_the_stubs_name_exactly_what_the_module_exports():
    stubs = (Path(tessera.__file__).parent / "_tessera.pyi").read_text()
    declared = {line.split()[1].split("(")[0].rstrip(":") for line in stubs.splitlines() if line.startswith(("def ", "class "))}
    words = {"Status", "STATUSES", "PERMITTING", "Mode", "ErrorCode"}
    assert declared | words == set(tessera.__all__)
    assert all(hasattr(tessera, name) for name in tessera.__all__)
    assert (Path(tessera.__file__).parent / "py.typed").exists()
