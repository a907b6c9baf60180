"""The storage's pure parts: account names, what the storage proxy lets through, and the one
line `up` prints when Node.js is missing."""

from __future__ import annotations

import re

import pytest

from emulator import storage
from emulator.storage_proxy import StorageProxy


def test_account_names_are_azures_and_stable() -> None:
    name = storage.account_name("sub", "rg", "Mlw-Local_Workspace-With-A-Long-Name")
    assert re.fullmatch(r"[a-z0-9]{3,24}", name)
    assert name == storage.account_name("sub", "rg", "Mlw-Local_Workspace-With-A-Long-Name")
    assert name != storage.account_name("sub", "rg2", "Mlw-Local_Workspace-With-A-Long-Name")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("mlwlocal0123456789.blob.storage.localhost", True),
        ("MLWLOCAL0123456789.BLOB.STORAGE.LOCALHOST", True),
        ("mlwlocal.blob.core.windows.net", False),
        ("example.com", False),
        ("a.blob.storage.localhost", False),  # not an account name (3-24 characters)
        ("x.y.blob.storage.localhost", False),
        ("acct.blob.storage.localhost.example.com", False),
    ],
)
def test_the_proxy_takes_blob_names_of_the_storage_alone(host: str, allowed: bool) -> None:
    assert StorageProxy.allows(host) is allowed


def test_missing_node_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    problem = storage.missing()
    assert problem is not None and "Node.js" in problem and "\n" not in problem
