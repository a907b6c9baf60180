"""Failures a user meets: each ends in the cause and the fix, and production is untouched."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.e2e.conftest import App


def test_out_of_quota_is_found_before_the_build_and_the_lease(app: App) -> None:
    """The preflight reads the usages API: 1 x Standard_DS2_v2 (2 cores) needs ceil(1.2) = 2
    instances = 4 cores of quota. plan and deploy both stop before anything is built or
    changed (Azure used to refuse only after the build, the push and the endpoint)."""
    app.emulator.admin("POST", "/quota", {"standardDSv2Family": 2})
    for command in ("plan", "deploy"):
        result = app.run(command)
        assert result.returncode == 1, command
        assert "deployment blue needs 4 cores of standardDSv2Family" in result.stderr
        assert "2 free (quota 2, used 0)" in result.stderr
        assert "hint: request more standardDSv2Family quota" in result.stderr
        assert "pushed" not in result.stderr + result.stdout
    assert app.endpoint("models") is None


def test_blue_green_needs_quota_for_old_and_new_at_once(app: App) -> None:
    """blue holds 4 cores; green needs 4 more while blue serves: with a quota of 6 the next
    version is refused before its build, blue untouched. Re-running the same version needs
    nothing new and succeeds."""
    assert app.deploy().returncode == 0
    app.emulator.admin("POST", "/quota", {"standardDSv2Family": 6})
    assert app.deploy().returncode == 0, "the same version again needs no quota"
    app.server_deploy_file(color="two")
    result = app.deploy()
    assert result.returncode == 1
    assert "deployment green needs 4 cores of standardDSv2Family" in result.stderr
    assert "2 free (quota 6, used 4)" in result.stderr
    assert "pushed" not in result.stderr + result.stdout
    endpoint = app.endpoint("models")
    assert endpoint is not None and endpoint["properties"]["traffic"] == {"blue": 100}


def test_image_pull_refused_shows_the_pull_log_and_the_role(app: App) -> None:
    app.emulator.admin("POST", "/acr", {"workspace_can_pull": False})
    result = app.deploy()
    assert result.returncode == 1
    assert "(StorageInitializer, last 100 lines)" in result.stderr
    assert "Failed to pull image" in result.stderr
    assert "AcrPull" in result.stderr


def test_endpoint_name_taken_in_the_region(app: App) -> None:
    """Another customer holds the name in the region: Azure's 400 BadRequest wrapping
    InferencingClientCallFailed gets the hint (it keyed on a 409 that Azure never sends)."""
    app.emulator.admin("POST", "/taken-names", {"names": ["models"]})
    result = app.deploy()
    assert result.returncode == 1
    assert "There is already an endpoint with this name" in result.stderr
    assert "hint: endpoint names are unique per Azure region across all customers" in result.stderr
    assert "choose another endpoint.name" in result.stderr


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
    assert "the build step [2/3] RUN echo" in result.stderr
    assert "exit code: 7" in result.stderr
    assert "missing weights.bin" in result.stderr  # the failing step's own output
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert app.endpoint("models") is not None  # created while building; nothing deployed
    assert app.endpoint("models")["deployments"] == []
    assert "Nothing was changed" not in result.stderr
    assert "Endpoint models was created, with no deployment and no traffic" in result.stderr
    # its lease handed back: the next run, with the build fixed, deploys at once
    dockerfile.write_text(dockerfile.read_text().replace("&& exit 7", "&& true"))
    app.commit("fixed build")
    fixed = app.deploy()
    assert fixed.returncode == 0, fixed.stderr
    assert "to finish with endpoint" not in fixed.stderr


def test_a_base_image_that_cannot_be_pulled_is_named_not_called_a_parse_error(app: App) -> None:
    """A FROM image from a registry the runner cannot reach: the image, the registry and why,
    with the fix; the endpoint created meanwhile is said to be there, empty."""
    dockerfile = app.root / "server" / "Dockerfile"
    dockerfile.write_text(
        "FROM 127.0.0.1:1/team/python-base:3.11\n" + dockerfile.read_text().split("\n", 2)[2]
    )
    app.commit("a base image nobody serves")
    result = app.deploy()
    assert result.returncode == 1
    assert (
        "the base image 127.0.0.1:1/team/python-base:3.11 could not be pulled from 127.0.0.1:1 "
        "(unreachable: " in result.stderr
    )
    assert "let the runner reach 127.0.0.1:1" in result.stderr
    assert "does not parse" not in result.stderr and "Traceback" not in result.stderr
    assert "Endpoint models was created, with no deployment and no traffic" in result.stderr


def test_a_new_endpoint_reporting_updating_after_succeeded_is_waited_out(app: App) -> None:
    """Azure/azure-sdk-for-net#36961: just after the endpoint's creation reported Succeeded it
    reports Updating, and Azure refuses its first deployment; the action tries again until the
    endpoint has settled, and the deploy succeeds."""
    app.emulator.fault(
        kind="updating_after_succeeded",
        path="/onlineEndpoints/models$",
        method="PUT",
        delay_seconds=20,
    )
    result = app.deploy()
    assert result.returncode == 0, result.stderr
    assert "endpoint models is not settled yet" in result.stderr
    assert "because it is in Updating provisioning state" in result.stderr
    endpoint = app.endpoint("models")
    assert endpoint is not None and endpoint["properties"]["traffic"] == {"blue": 100}
