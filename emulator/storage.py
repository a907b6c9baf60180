"""The storage accounts (the workspace's, and each Azure ML registry's): Azurite, the npm package
`azurite` pinned in package-lock.json, started and stopped by the emulator.

Azurite serves HTTPS itself (`--cert`/`--key`: the emulator's server certificate, which also
covers `*.blob.<storage suffix>`) on 127.0.0.1, with its data under the state directory and the
accounts of `AZURITE_ACCOUNTS` (Azurite's README, "Customized Storage Accounts & Keys"). It
takes the account from the host name (`<account>.blob.…`, "Production-style URL") or, for
`https://127.0.0.1:<port>/<account>/…`, from the path: the SDK uses the first through the
storage proxy (emulator/storage_proxy.py), the emulator itself the second.

With `in_memory` (`up --storage memory`) Azurite keeps every blob in its own memory
(`--inMemoryPersistence`, Azurite's README) and writes nothing under the state directory: the
blobs are gone when it stops. The benchmark's gigabyte upload uses it, so that the bytes it
uploads take no disk.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emulator import children
from emulator.tls import TlsFiles

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
# The name part of every blob host: `https://<account>.blob.<SUFFIX>:<port>`. Under `localhost.`
# (RFC 6761) so that it never names a real host, and resolves to loopback where the resolver
# knows that (emulator/scoring_hosts.py); elsewhere the storage proxy carries it.
SUFFIX = "storage.localhost"


class AzuriteMissing(RuntimeError):
    """Node or the pinned azurite package is not installed."""


def missing() -> str | None:
    """Why Azurite cannot start here, in one line, or None."""
    if shutil.which("node") is None:
        return "Node.js (20 or later) is not installed; it runs Azurite, the storage emulator"
    if not AZURITE.exists():
        return "the npm package azurite is not installed; run `make setup` (npm ci)"
    return None


def account_name(*parts: str) -> str:
    """A storage account name as Azure allows them (3-24 lower-case letters and digits; Learn
    "Storage account overview", naming), stable for what it belongs to."""
    prefix = re.sub(r"[^a-z0-9]", "", parts[-1].lower())[:14] or "store"
    return prefix + hashlib.sha256("/".join(parts).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Account:
    name: str
    key: str  # base64, as Azure's account keys are

    @classmethod
    def new(cls, name: str) -> Account:
        return cls(name, base64.b64encode(secrets.token_bytes(64)).decode("ascii"))


class Azurite:
    """The `azurite-blob` process (blob service only: Azure ML's assets live in blobs)."""

    def __init__(
        self, state_dir: Path, tls: TlsFiles, accounts: list[Account], in_memory: bool = False
    ) -> None:
        problem = missing()
        if problem is not None:
            raise AzuriteMissing(problem)
        self.state_dir = state_dir
        self.tls = tls
        self.accounts = {account.name: account for account in accounts}
        self.in_memory = in_memory
        self.port = children.free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The storage endpoint the SDK puts after `<account>.blob.` (cloud metadata)."""
        return f"{SUFFIX}:{self.port}"

    def account_url(self, name: str) -> str:
        """Where the emulator itself reaches an account (Azurite's path-style URL)."""
        return f"https://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        directory = self.state_dir / "azurite"
        persistence = ["--location", str(directory)]
        if self.in_memory:
            directory = self.state_dir
            persistence = ["--inMemoryPersistence"]  # Azurite refuses it with --location
        directory.mkdir(parents=True, exist_ok=True)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(directory)),
            "AZURITE_ACCOUNTS": ";".join(f"{a.name}:{a.key}" for a in self.accounts.values()),
        }
        with (self.state_dir / "azurite.log").open("ab") as output:
            self.process = subprocess.Popen(
                [
                    str(AZURITE),
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(self.port),
                    *persistence,
                    "--cert",
                    str(self.tls.server_cert),
                    "--key",
                    str(self.tls.server_key),
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--silent",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
            )

    async def wait_ready(self, timeout: float = 30) -> None:
        context = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    children.exited("azurite", self.process, self.state_dir / "azurite.log")
                )
            # Each probe is bounded: whatever else may listen on the port need not answer.
            with contextlib.suppress(OSError, TimeoutError):
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port, ssl=context), timeout=2
                )
                writer.close()
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"azurite did not start within {timeout:.0f} s")

    def get_blob(self, account: str, container: str, path: str) -> bytes | None:
        """A blob as the account's owner reads it (the admin API's view), None if missing."""
        from azure.core.exceptions import ResourceNotFoundError

        if account not in self.accounts:
            return None
        try:
            return bytes(self._container(account, container).download_blob(path).readall())
        except ResourceNotFoundError:
            return None

    def _container(self, account: str, container: str) -> ContainerClient:
        from azure.storage.blob import ContainerClient

        return ContainerClient(
            self.account_url(account),
            container,
            credential={"account_name": account, "account_key": self.accounts[account].key},
            connection_verify=str(self.tls.ca_cert),
        )

    def put_blob(self, account: str, container: str, path: str, text: str) -> None:
        """Writes what the emulator itself stores for Azure (an image's build log), creating
        the container if it is not there."""
        from azure.core.exceptions import ResourceExistsError

        client = self._container(account, container)
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        client.upload_blob(path, text.encode(), overwrite=True)

    def append_line(self, account: str, container: str, path: str, line: str) -> None:
        """Appends one line to an append blob (what the data collector writes), creating the
        container and the blob as needed."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        client = self._container(account, container)
        blob = client.get_blob_client(path)
        data = (line + "\n").encode()
        try:
            blob.append_block(data)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                client.create_container()
            with contextlib.suppress(ResourceExistsError):
                blob.create_append_blob(if_none_match="*")
            blob.append_block(data)

    def stop(self) -> None:
        children.stop(self.process)
