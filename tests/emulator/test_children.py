"""The emulator's child processes and their ports: a taken port is named in words `up` knows,
so it starts again with other ports (emulator/lifecycle.py) instead of failing the run."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import children, storage
from emulator.acr import Registry
from emulator.tls import ensure_tls

pytestmark = pytest.mark.docker  # docker-registry and Azurite are installed with Docker


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on, as when a busy machine took the one picked."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", children.free_port()))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_ports_are_picked_outside_the_kernels_ephemeral_range() -> None:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    picked = {children.free_port() for _ in range(20)}
    assert not any(low <= port <= high for port in picked)
    assert len(picked) > 1  # random, so two emulators starting at once differ
    for port in picked:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))  # free when picked


def test_a_registry_on_a_taken_port_says_so(tmp_path: Path, taken_port: int) -> None:
    tls = ensure_tls(tmp_path / "tls")
    registry = Registry(tmp_path, tls)
    registry.port, registry.login_server = taken_port, f"127.0.0.1:{taken_port}"
    registry.start_with("https://127.0.0.1:1/token", "issuer", tls.ca_cert.read_bytes())
    try:
        with pytest.raises(RuntimeError) as failure:
            asyncio.run(registry.wait_ready(tls.ca_cert, timeout=20))
    finally:
        registry.stop()
    assert children.PORT_TAKEN in str(failure.value)
    assert "docker-registry exited" in str(failure.value)


def test_azurite_on_a_taken_port_says_so(tmp_path: Path, taken_port: int) -> None:
    tls = ensure_tls(tmp_path / "tls")
    azurite = storage.Azurite(tmp_path, tls, [storage.Account.new("probe")], in_memory=True)
    azurite.port = taken_port
    azurite.start()
    try:
        with pytest.raises(RuntimeError) as failure:
            asyncio.run(azurite.wait_ready(timeout=20))
    finally:
        azurite.stop()
    assert children.PORT_TAKEN in str(failure.value)
    assert "azurite exited" in str(failure.value)
