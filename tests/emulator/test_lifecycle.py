"""`up`, `status`, `env`, `down`: the emulator's own command line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from emulator.client import AdminError, Emulator
from tests.emulator.arm import Arm
from tools.emulators import Bundle, run_cli, start
from tools.images import model_server_image

# Each test starts an emulator of its own: docker-registry and the Docker engine.
pytestmark = pytest.mark.docker


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by init is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in command:
                found.append(int(entry.name))
    return found


def test_up_status_env_down(tmp_path: Path) -> None:
    state = tmp_path / "emu"
    result = run_cli("up", state_dir=state)
    assert result.returncode == 0, result.stderr
    connection = json.loads((state / "connection.json").read_text())
    for key in (
        "arm_url",
        "authority_url",
        "gateway_url",
        "admin_url",
        "ca_bundle",
        "tenant_id",
        "client_id",
        "subscription_id",
        "resource_group",
        "workspace",
    ):
        assert connection[key], key
    assert set(connection["oidc"]) >= {"issuer", "request_url", "request_token"}
    # it holds secrets (the admin token, the client secret): its owner's alone
    assert (state / "connection.json").stat().st_mode & 0o777 == 0o600
    assert len(connection["admin_token"]) >= 32
    assert connection["oidc"]["request_url"].endswith("/idtoken?api-version=2.0")
    assert Path(connection["ca_bundle"]).is_absolute()
    pid = connection["pid"]
    assert alive(pid)

    again = run_cli("up", state_dir=state)
    assert again.returncode == 0 and "already running" in again.stderr
    assert json.loads((state / "connection.json").read_text())["pid"] == pid

    status = run_cli("status", state_dir=state)
    assert status.returncode == 0 and f"pid {pid}" in status.stdout

    exports = run_cli("env", state_dir=state)
    assert "export REQUESTS_CA_BUNDLE=" in exports.stdout
    assert "export ACTIONS_ID_TOKEN_REQUEST_URL=" in exports.stdout
    shell = subprocess.run(
        ["bash", "-c", exports.stdout + '\necho "$AZURE_TENANT_ID"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == connection["tenant_id"]

    down = run_cli("down", state_dir=state)
    assert down.returncode == 0
    assert not alive(pid)
    assert processes_mentioning(str(state)) == []
    assert not (state / "connection.json").exists()
    assert run_cli("status", state_dir=state).returncode == 3


def test_down_removes_every_container_network_and_process(
    tmp_path: Path, ca_bundle: Bundle
) -> None:
    state = tmp_path / "emu"
    emulator = start(state)
    ca_bundle.trust(emulator)
    emulator_id = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:8]
    label = {"label": f"azureml-deploy.emulator={emulator_id}"}
    arm = Arm(emulator, image=emulator.push(model_server_image(), "model-server"))
    arm.create_endpoint("lifecycle")
    assert arm.create_deployment("lifecycle", "blue", capacity=2)["status"] == "Succeeded"
    client = docker.from_env()
    assert len(client.containers.list(filters=label)) == 2
    assert len(client.networks.list(filters=label)) == 1
    registry_pids = processes_mentioning(str(state / "registry"))
    assert registry_pids, "docker-registry runs while the emulator is up"

    assert run_cli("down", state_dir=state).returncode == 0
    assert client.containers.list(all=True, filters=label) == []
    assert client.networks.list(filters=label) == []
    assert processes_mentioning(str(state)) == []
    assert not any(alive(pid) for pid in registry_pids)


def test_up_explains_a_missing_prerequisite_in_one_line(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "up", "--state-dir", str(tmp_path / "emu")],
        cwd=root,
        env={**os.environ, "PATH": str(tmp_path)},  # no docker-registry on this PATH
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "docker-registry" in result.stderr and "scripts/ensure-docker.sh" in result.stderr


def test_identities_and_ca_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emu"
    assert run_cli("up", state_dir=state).returncode == 0
    first = json.loads((state / "connection.json").read_text())
    ca = Path(first["ca_cert"]).read_bytes()
    run_cli("down", state_dir=state)
    assert (
        run_cli(
            "up",
            state_dir=state,
        ).returncode
        == 0
    )
    second = json.loads((state / "connection.json").read_text())
    try:
        # the admin token is new at every start: the first start's opens nothing now
        assert second["admin_token"] != first["admin_token"]
        stale = Emulator(state, {**second, "admin_token": first["admin_token"]})
        with pytest.raises(AdminError, match="401"):
            stale.admin("POST", "/github/tokens", {"permissions": {"contents": "write"}})
        issued = Emulator.at(state).admin("GET", "/secrets")["secrets"]
        assert "github-token" not in {entry["kind"] for entry in issued}  # none minted
    finally:
        run_cli("down", state_dir=state)
    assert second["tenant_id"] == first["tenant_id"]
    assert second["subscription_id"] == first["subscription_id"]
    assert Path(second["ca_cert"]).read_bytes() == ca


def test_state_dir_from_the_environment(tmp_path: Path) -> None:
    state = tmp_path / "from-env"
    environment = {**os.environ, "AZUREML_EMULATOR_DIR": str(state)}
    root = Path(__file__).resolve().parents[2]
    up = subprocess.run(
        [sys.executable, "-m", "emulator", "up"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stderr
        assert (state / "connection.json").exists()
    finally:
        subprocess.run(
            [sys.executable, "-m", "emulator", "down"],
            cwd=root,
            env=environment,
            capture_output=True,
            timeout=90,
            check=False,
        )


def test_down_when_not_running_is_fine(tmp_path: Path) -> None:
    result = run_cli("down", state_dir=tmp_path / "never")
    assert result.returncode == 0
    assert "not running" in result.stderr
