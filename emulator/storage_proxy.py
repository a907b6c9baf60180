"""The storage proxy: how `https://<account>.blob.storage.localhost:<port>` reaches Azurite on a
machine whose resolver does not know `*.localhost`.

azure-ai-ml builds a datastore's URL from the cloud's storage endpoint
(`STORAGE_ACCOUNT_URLS` in azure/ai/ml/constants/_common.py, `get_datastore_info` in
azure/ai/ml/_artifacts/_artifact_utilities.py: `https://{account}.blob.{storage_endpoint}`), and
azure-core's requests transport honours `HTTPS_PROXY`: through a proxy the client never resolves
the name, it sends `CONNECT <host>:<port>` and speaks TLS to Azurite inside the tunnel (the
certificate, from the emulator's CA, covers `*.blob.storage.localhost`). This proxy does for
those names what a resolver that follows RFC 6761 does for any name under `localhost.`: it takes
them to 127.0.0.1, at the port the URL names (so one proxy serves every emulator of a test
session). Every other name is refused (403), so nothing leaves 127.0.0.1 through it.

It counts what it relays (`relayed()`, the admin API's `GET /storage/proxy`): the tunnels it
opened and the bytes each way. The tunnel carries TLS, so a count is the bytes on the wire —
payloads, HTTP headers and TLS records — not any one blob's size; zero bytes means that no
client reached the storage at all. The benchmark reads it (bench/assets.py); nothing in the
product does.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import Callable

from emulator.storage import SUFFIX

_CONNECT = re.compile(rb"^CONNECT ([^\s:]+):(\d+) HTTP/1\.[01]\r\n$", re.IGNORECASE)
_HOST = re.compile(r"^[a-z0-9]{3,24}\.blob\." + re.escape(SUFFIX) + "$")


class StorageProxy:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.server: asyncio.Server | None = None
        self.tunnels = 0
        self.client_to_storage = 0  # bytes relayed from clients to the storage
        self.storage_to_client = 0

    def relayed(self) -> dict[str, int]:
        """Tunnels opened and bytes relayed each way since the proxy started."""
        return {
            "tunnels": self.tunnels,
            "client_to_storage": self.client_to_storage,
            "storage_to_client": self.storage_to_client,
        }

    def _up(self, size: int) -> None:
        self.client_to_storage += size

    def _down(self, size: int) -> None:
        self.storage_to_client += size

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, sock=self.sock)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    @staticmethod
    def allows(host: str) -> bool:
        return _HOST.match(host.lower()) is not None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass  # the request's headers: none matters
            match = _CONNECT.match(request)
            if match is None or not self.allows(match[1].decode()):
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", int(match[2])
            )
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            self.tunnels += 1
            await asyncio.gather(
                _pipe(reader, upstream_writer, self._up),
                _pipe(upstream_reader, writer, self._down),
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: Callable[[int], None]
) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            count(len(chunk))
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()
