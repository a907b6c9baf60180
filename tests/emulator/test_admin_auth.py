"""The admin API answers only to this start's `admin_token` (the connection file's): without
it, with a wrong one or with another start's, every route is 401 and changes nothing."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulator.client import AdminError, Emulator
from tools.emulators import run_cli, start

# ARM, Entra and GitHub alone: the emulator without a data plane (tests/conftest.py).
pytestmark = pytest.mark.control_plane


@pytest.fixture(scope="module")
def other_start_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The admin token of another emulator's start (control plane only), stopped at once."""
    state = tmp_path_factory.mktemp("other-start")
    other = start(state, "--data-plane", "none")
    token = str(other["admin_token"])
    run_cli("down", state_dir=state)
    yield token


def call(
    emulator: Emulator, method: str, path: str, authorization: str | None, body: object = None
) -> requests.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.request(
        method,
        emulator["admin_url"] + path,
        json=body,
        headers=headers,
        verify=emulator["ca_cert"],
        timeout=30,
    )


def refusals(emulator: Emulator, other_start_token: str) -> dict[str, str | None]:
    token = str(emulator["admin_token"])
    return {
        "no header": None,
        "wrong token": "Bearer " + "x" * len(token),
        "another start's token": f"Bearer {other_start_token}",
        "the token, not as Bearer": f"Basic {token}",
        "the token with a suffix": f"Bearer {token}x",
        "empty bearer": "Bearer ",
        "not latin-1 text": "Bearer \u00e9\u00e9",
    }


ROUTES = [
    ("GET", "/health", None),
    ("GET", "/secrets", None),
    ("GET", "/requests", None),
    ("GET", "/state", None),
    ("POST", "/github/tokens", {"permissions": {"contents": "write"}}),
    ("POST", "/faults", {"kind": "status", "status": 503}),
    ("POST", "/quota", {"standardDSv2Family": 1}),
    ("POST", "/reset", None),
]


def test_every_route_refuses_a_request_without_this_starts_token(
    emulator: Emulator, other_start_token: str
) -> None:
    assert other_start_token != emulator["admin_token"]
    emulator.admin("POST", "/quota", {"standardDSv2Family": 7})  # to see that no reset ran
    secrets_mark = emulator.last_secret()
    for label, authorization in refusals(emulator, other_start_token).items():
        for method, path, body in ROUTES:
            answer = call(emulator, method, path, authorization, body)
            assert answer.status_code == 401, (label, method, path)
            challenge = answer.headers["WWW-Authenticate"]
            assert challenge.startswith("Bearer "), challenge
            assert ('error="invalid_token"' in challenge) == (authorization is not None)
            assert answer.headers["Content-Type"].startswith("application/json")
            assert answer.json()["error"]["code"] == "Unauthorized"
            assert emulator["admin_token"] not in answer.text
    # nothing changed: no token minted, no fault, the quota kept (no reset)
    assert emulator.secrets_since(secrets_mark) == []
    assert emulator.admin("GET", "/faults")["faults"] == []
    assert emulator.admin("GET", "/quota") == {"standardDSv2Family": 7}


def test_two_authorization_headers_are_refused_even_with_the_token(emulator: Emulator) -> None:
    url = urllib.parse.urlsplit(emulator["admin_url"])
    connection = http.client.HTTPSConnection(
        str(url.hostname), url.port, context=emulator.ssl_context, timeout=30
    )
    try:
        connection.putrequest("GET", "/health")
        for _ in range(2):  # two header fields of one name
            connection.putheader("Authorization", f"Bearer {emulator['admin_token']}")
        connection.endheaders()
        assert connection.getresponse().status == 401
    finally:
        connection.close()


def test_this_starts_token_works(emulator: Emulator) -> None:
    token = str(emulator["admin_token"])
    for scheme in ("Bearer", "bearer"):  # the scheme is case-insensitive (RFC 7235)
        answer = call(emulator, "GET", "/health", f"{scheme} {token}")
        assert answer.status_code == 200
        assert answer.json()["status"] == "ok"
    minted = call(emulator, "POST", "/github/tokens", f"Bearer {token}", {"permissions": {}})
    assert minted.status_code == 200 and minted.json()["token"].startswith("ghs_")


def test_the_client_raises_on_a_refusal(emulator: Emulator, other_start_token: str) -> None:
    stale = Emulator(emulator.state_dir, {**emulator.connection, "admin_token": other_start_token})
    with pytest.raises(AdminError, match="401"):
        stale.admin("GET", "/state")


def test_the_connection_file_is_its_owners_alone(emulator: Emulator) -> None:
    path = Path(emulator.state_dir) / "connection.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(Path(emulator.state_dir).glob("*.tmp"))
