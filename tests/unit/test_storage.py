"""The storage's pure parts: account names, what the storage proxy lets through and counts,
and the one line `up` prints when Node.js is missing."""

from __future__ import annotations

import asyncio
import re
import socket

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


def test_the_proxy_counts_what_it_relays_each_way() -> None:
    async def exchange() -> dict[str, int]:
        async def storage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(1000)
            writer.write(b"s" * 300)
            await writer.drain()
            writer.close()

        upstream = await asyncio.start_server(storage, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        proxy = StorageProxy(listening)
        await proxy.start()
        address = listening.getsockname()
        for host in ("example.com", "acct0123.blob.storage.localhost"):
            reader, writer = await asyncio.open_connection(*address)
            writer.write(f"CONNECT {host}:{port} HTTP/1.1\r\n\r\n".encode())
            answer = await reader.readline()
            if answer.startswith(b"HTTP/1.1 200"):
                await reader.readline()  # the empty line after the status
                writer.write(b"c" * 1000)
                assert await reader.read() == b"s" * 300  # until the storage closes
            writer.close()
        counted = proxy.relayed()
        await proxy.close()
        upstream.close()
        return counted

    # a refused CONNECT opens no tunnel and relays nothing; the proxy's own answers and the
    # CONNECT request are not counted
    assert asyncio.run(exchange()) == {
        "tunnels": 1,
        "client_to_storage": 1000,
        "storage_to_client": 300,
    }
