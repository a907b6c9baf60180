"""Failures a user meets: each ends in the cause and the fix, and production is untouched."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.e2e.conftest import App


def test_out_of_quota(app: App) -> None:
    app.emulator.admin("POST", "/quota", {"standardDSv2Family": 2})
    result = app.deploy()
    assert result.returncode == 1
    assert "OutOfQuota" in result.stderr or "Not enough quota" in result.stderr
    assert "hint: ask for more quota" in result.stderr


def test_image_pull_refused_shows_the_pull_log_and_the_role(app: App) -> None:
    app.emulator.admin("POST", "/acr", {"workspace_can_pull": False})
    result = app.deploy()
    assert result.returncode == 1
    assert "(StorageInitializer, last 100 lines)" in result.stderr
    assert "Failed to pull image" in result.stderr
    assert "AcrPull" in result.stderr


def test_endpoint_name_taken_in_the_region(app: App) -> None:
    app.emulator.admin("POST", "/workspaces", {"name": "other", "endpoints": ["models"]})
    result = app.deploy()
    assert result.returncode == 1
    assert "unique per Azure region" in result.stderr


def test_missing_role_names_it(app: App) -> None:
    action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write"
    app.emulator.admin("POST", "/authorization", {"deny": [action]})
    result = app.deploy()
    assert result.returncode == 1
    assert action in result.stderr
    assert "AzureML Data Scientist" in result.stderr


def test_wrong_workspace_names_the_inputs(app: App) -> None:
    result = app.deploy("--workspace", "nope")
    assert result.returncode == 1
    assert "check the subscription-id, resource-group and workspace inputs" in result.stderr


def wait_for(output: list[str], process: subprocess.Popen[str], text: str, timeout: float) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        output.append(line)
        if text in line:
            return
    raise AssertionError("".join(output))


def test_cancelling_a_canary_puts_traffic_back(app: App) -> None:
    app.outputs("--environment", "production")
    app.server_deploy_file(color="two")
    text = (app.root / "server" / "deploy.yml").read_text()
    (app.root / "server" / "deploy.yml").write_text(
        text.replace("step_wait_seconds: 1", "step_wait_seconds: 120")
    )
    app.commit("long canary")
    process = app.start("deploy", "--environment", "production")
    output: list[str] = []
    wait_for(output, process, "→ watch green for 120 s", timeout=120)
    assert app.endpoint("models")["properties"]["traffic"] == {"blue": 50, "green": 50}
    process.send_signal(signal.SIGTERM)
    stdout, rest = process.communicate(timeout=120)
    log = "".join(output) + rest
    app.record("deploy (cancelled)", stdout, log)
    assert process.returncode == 130, log
    assert "putting all traffic back on blue" in log
    traffic = app.endpoint("models")["properties"]["traffic"]
    assert traffic["blue"] == 100 and traffic.get("green", 0) == 0
    assert "deployment green is being deleted" in log
    assert "Traceback" not in log


def test_a_failing_build_step_shows_its_output(app: App) -> None:
    dockerfile = app.root / "server" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "COPY server.py",
            'RUN echo "compiling the model" && echo "missing weights.bin" >&2 '
            "&& exit 7\nCOPY server.py",
        )
    )
    app.commit("broken build")
    result = app.deploy()
    assert result.returncode == 1
    assert "the image build failed" in result.stderr
    assert "missing weights.bin" in result.stderr  # the failing step's own output
    assert "Step 1/" in result.stderr
    assert app.endpoint("models") is not None  # created while building; nothing deployed
    assert app.endpoint("models")["deployments"] == []
