"""Deployments as real containers: readiness, crash loops, pull failures, logs, clean-up."""

from __future__ import annotations

import hashlib

import docker
import pytest

from emulator.client import Emulator
from emulator.dataplane import (
    FAST_STARTUP_FLOOR,
    LoggedError,
    Probe,
    last_error,
    not_ready_hint,
)
from tests.emulator.arm import DEPLOYMENTS_API, Arm


@pytest.fixture
def arm(emulator: Emulator, image: str) -> Arm:
    arm = Arm(emulator, image=image)
    arm.create_endpoint("models")
    return arm


def containers(emulator: Emulator, deployment: str | None = None) -> list[str]:
    """This emulator's containers of endpoint `models` (other emulators may run beside it)."""
    labels = [
        f"azureml-deploy.emulator={_emulator_id(emulator)}",
        "azureml-deploy.emulator.endpoint=models",
    ]
    if deployment:
        labels.append(f"azureml-deploy.emulator.deployment={deployment}")
    found = docker.from_env().containers.list(all=True, filters={"label": labels})
    return sorted(container.name for container in found)


def logs(arm: Arm, deployment: str, container_type: str | None = None) -> str:
    body: dict[str, int | str] = {"tail": 100}
    if container_type:
        body["containerType"] = container_type
    response = arm.call(
        "POST",
        arm.ws(f"/onlineEndpoints/models/deployments/{deployment}/getLogs"),
        body,
        DEPLOYMENTS_API,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["content"])


def test_instances_are_real_containers_with_the_environment(emulator: Emulator, arm: Arm) -> None:
    status = arm.create_deployment("models", "blue", capacity=2, variables={"COLOR": "blue"})
    assert status["status"] == "Succeeded"
    names = containers(emulator, "blue")
    assert len(names) == 2
    state = emulator.admin("GET", "/state")
    [endpoint] = [e for e in state["endpoints"] if e["name"] == "models"]
    [deployment] = endpoint["deployments"]
    assert [i["ready"] for i in deployment["instances"]] == [True, True]
    container = docker.from_env().containers.get(names[0])
    assert "COLOR=blue" in container.attrs["Config"]["Env"]
    network = container.attrs["NetworkSettings"]["Networks"]
    assert list(network) == [f"azureml-emulator-{emulator.state_dir and _emulator_id(emulator)}"]


def _emulator_id(emulator: Emulator) -> str:
    return hashlib.sha256(str(emulator.state_dir.resolve()).encode()).hexdigest()[:8]


def test_the_network_is_internal_with_an_explicit_subnet(emulator: Emulator) -> None:
    network = docker.from_env().networks.get(f"azureml-emulator-{_emulator_id(emulator)}")
    assert network.attrs["Internal"] is True
    assert network.attrs["IPAM"]["Config"][0]["Subnet"].startswith("10.213.")


def test_a_crashing_image_fails_like_azure_with_its_log(emulator: Emulator, arm: Arm) -> None:
    status = arm.create_deployment("models", "crashy", variables={"MODE": "crash"})
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "ResourceNotReady"
    assert "crashed or terminated" in status["error"]["message"]
    assert "exited with code 3" in status["error"]["message"]
    assert "boom: the model file /models/model.bin is missing" in logs(arm, "crashy")
    assert containers(emulator, "crashy") == []


def test_a_never_ready_image_fails_with_resource_not_ready(emulator: Emulator, arm: Arm) -> None:
    status = arm.create_deployment("models", "sleepy", variables={"MODE": "never-ready"})
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "ResourceNotReady"
    assert "Readiness probe failed: GET /ready on port 5001" in status["error"]["message"]
    assert "HTTP 503" in status["error"]["message"]
    assert "GET /ready" in logs(arm, "sleepy")


def test_an_image_that_cannot_be_pulled(emulator: Emulator, arm: Arm) -> None:
    missing = f"{emulator['registry']}/nothing-here@sha256:" + "0" * 64
    environment = arm.create_environment("missing", image=missing)
    status = arm.create_deployment("models", "ghost", environment=environment)
    assert status["status"] == "Failed"
    # how-to-troubleshoot-online-endpoints.md: BadArgument, "Unable to download user container
    # image"
    assert status["error"]["code"] == "BadArgument"
    assert status["error"]["message"].startswith("Unable to download user container image")
    assert missing in status["error"]["message"]
    assert f"Failed to pull image {missing}" in logs(arm, "ghost", "StorageInitializer")


def test_without_acr_pull_the_endpoint_cannot_pull(emulator: Emulator, arm: Arm) -> None:
    emulator.admin("POST", "/acr", {"workspace_can_pull": False})
    status = arm.create_deployment("models", "denied")
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "ResourceNotFound"
    assert "Container registry is private or otherwise inaccessible" in status["error"]["message"]


def test_the_endpoints_own_principal_pulls_not_the_workspaces(emulator: Emulator, arm: Arm) -> None:
    """Another registry than the workspace's: only a role granted to THIS endpoint's principal
    lets its deployments pull; a grant to another endpoint's principal does not."""
    emulator.admin("POST", "/acr", {"workspace_registry": False})
    arm.create_endpoint("other")
    state = emulator.admin("GET", "/state")
    principals = {e["name"]: e["identity"]["principalId"] for e in state["endpoints"]}
    grant = {"principal": principals["other"], "role": "AcrPull"}
    emulator.admin("POST", "/acr", {"grants": [grant]})
    refused = arm.create_deployment("models", "blue")
    assert refused["error"]["code"] == "ResourceNotFound"
    assert principals["models"] in refused["error"]["message"]
    grant = {"principal": principals["models"], "role": "AcrPull"}
    emulator.admin("POST", "/acr", {"grants": [grant]})
    assert arm.create_deployment("models", "green")["status"] == "Succeeded"


def test_a_slow_pull(emulator: Emulator, arm: Arm) -> None:
    import time

    emulator.fault(part="dataplane", kind="slow_pull", path="/deployments/slow", delay_seconds=2)
    started = time.monotonic()
    assert arm.create_deployment("models", "slow")["status"] == "Succeeded"
    assert time.monotonic() - started >= 2
    assert "(slowly)" in logs(arm, "slow", "StorageInitializer")


def test_deleting_a_deployment_removes_its_containers(emulator: Emulator, arm: Arm) -> None:
    arm.create_deployment("models", "blue", capacity=2)
    assert len(containers(emulator, "blue")) == 2
    response = arm.call(
        "DELETE", arm.ws("/onlineEndpoints/models/deployments/blue"), api_version=DEPLOYMENTS_API
    )
    assert arm.wait(response)["status"] == "Succeeded"
    assert containers(emulator, "blue") == []


def test_deleting_the_endpoint_removes_all_containers(emulator: Emulator, arm: Arm) -> None:
    arm.create_deployment("models", "blue")
    arm.create_deployment("models", "green")
    assert len(containers(emulator)) == 2
    response = arm.call("DELETE", arm.ws("/onlineEndpoints/models"))
    assert arm.wait(response)["status"] == "Succeeded"
    assert containers(emulator) == []


def test_an_update_replaces_instances_without_a_gap(emulator: Emulator, arm: Arm) -> None:
    arm.create_deployment("models", "blue", variables={"COLOR": "one"})
    arm.wait(arm.set_traffic("models", {"blue": 100}))
    before = containers(emulator, "blue")
    response = arm.put_deployment("models", "blue", capacity=2, variables={"COLOR": "two"})
    assert response.status_code == 200
    assert arm.wait(response)["status"] == "Succeeded"
    after = containers(emulator, "blue")
    assert len(after) == 2 and not set(before) & set(after)


def test_logs_tail(emulator: Emulator, arm: Arm) -> None:
    arm.create_deployment("models", "blue")
    response = arm.call(
        "POST",
        arm.ws("/onlineEndpoints/models/deployments/blue/getLogs"),
        {"tail": 1},
        DEPLOYMENTS_API,
    )
    assert len(response.json()["content"].splitlines()) == 1


SERVER_LOGGED = """\
Traceback (most recent call last):
  File "/azureml-envs/x/site-packages/azureml_inference_server_http/server/appinsights_client.py"
    versions = [int(version) for version in os.listdir(path)]
ValueError: invalid literal for int() with base 10: 'requirements.txt'
"""
SCRIPT_RAISED = """\
2026-12-07 01:53:47,709 E [17] azmlinfsrv - Encountered Exception Traceback (most recent call last):
  File "/azureml-envs/x/site-packages/azureml_inference_server_http/server/user_script.py"
    self._user_init()
  File "/var/azureml-app/onlinescoring/score.py", line 2, in init
    raise RuntimeError('the model file is corrupt')
RuntimeError: the model file is corrupt

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/azureml-envs/x/site-packages/azureml_inference_server_http/server/user_script.py"
azureml_inference_server_http.server.user_script.UserScriptException: Caught an unhandled
"""
PROBE = Probe(initial_delay=1, period=1, timeout=2, success_threshold=1, failure_threshold=5)


def test_the_scoring_scripts_exception_is_the_cause_whatever_the_server_logged_after() -> None:
    """The inference server logs an error it survives (its App Insights client reading the
    model folder) before or after init() raises: the script's exception is the one named."""
    for log in (SCRIPT_RAISED + SERVER_LOGGED, SERVER_LOGGED + SCRIPT_RAISED):
        error = last_error(log)
        assert error == LoggedError("RuntimeError: the model file is corrupt", True)
        hint = not_ready_hint("no answer within 2 s", error, PROBE)
        assert hint.startswith("The scoring script raised: RuntimeError: the model file")


def test_a_probe_that_timed_out_quotes_the_logs_error_as_a_lead_not_a_cause() -> None:
    """A server still loading its model times the probe out; an error it logged and survived
    must not read as the reason it failed."""
    logged = last_error(SERVER_LOGGED)
    assert logged is not None and not logged.from_script
    hint = not_ready_hint("no answer within 2 s", logged, PROBE)
    assert "still starting or it hung" in hint
    assert "about 15 s" in hint  # 1 + 5 probes × 2 s + 4 periods × 1 s
    assert "readiness_probe.initial_delay or failure_threshold" in hint
    assert f"which may be unrelated: {logged.line}" in hint
    assert "ends in an error" not in hint


def test_a_probe_refused_quotes_the_logs_error_as_the_cause() -> None:
    logged = last_error(SERVER_LOGGED)
    assert f"ends in an error: {logged.line if logged else ''}" in not_ready_hint(
        "HTTP 502", logged, PROBE
    )
    assert "readiness_route" in not_ready_hint("ConnectError: connection failed", None, PROBE)
    assert last_error("all quiet\n") is None


def test_the_fast_profile_gives_a_starting_container_azures_time_up_to_a_floor() -> None:
    """Capped delays make probes fast, not a slow start fatal: a container is failed no sooner
    than Azure's own budget for the probe, at most FAST_STARTUP_FLOOR seconds."""
    example = {"initialDelay": "PT5S", "period": "PT5S", "failureThreshold": 3}
    assert Probe.of(example, cap=0.5).startup_floor == 20  # Azure's: 5 s + 3 × 5 s
    assert Probe.of({}, cap=0.5).startup_floor == FAST_STARTUP_FLOOR  # Azure's default: 310 s
    small = {"initialDelay": "PT1S", "period": "PT1S", "failureThreshold": 3}
    assert Probe.of(small, cap=0.5).startup_floor == 4
    assert Probe.of(example, cap=None).startup_floor == 0  # the azure profile: Azure's delays
