"""rollback, promote and abort: acting on a rollout after its job, from the endpoint's rollout
record, with the real command line against the emulator."""

from __future__ import annotations

import signal

from tests.e2e.conftest import App

PRODUCTION = ("--environment", "production")


KEPT = ("--environment", "kept")


def keep_previous(app: App, color: str, keep: str = "true") -> None:
    """The base file with an environment `kept` that keeps the previous deployment."""
    app.server_deploy_file(color=color)
    deploy = app.root / "server" / "deploy.yml"
    text = deploy.read_text().replace(
        "environments:\n", f"environments:\n  kept:\n    rollout: {{keep_previous: {keep}}}\n"
    )
    deploy.write_text(text)
    app.commit(f"keep previous, {color}")


def color(app: App, outputs: dict[str, str]) -> str:
    return str(app.score(outputs).json()["color"])


def test_rollback_sends_all_traffic_back_to_the_kept_deployment_and_again(app: App) -> None:
    keep_previous(app, "one")
    app.outputs(*KEPT)
    keep_previous(app, "two")
    outputs = app.outputs(*KEPT)
    assert color(app, outputs) == "two"
    rolled = app.run("rollback", *KEPT)
    assert rolled.returncode == 0, rolled.stderr
    shift = next(line for line in rolled.stderr.splitlines() if line.startswith("→ set traffic"))
    assert "blue 100%" in shift and "green 0%" in shift
    assert color(app, outputs) == "one"
    tags = app.endpoint("models")["tags"]
    assert (tags["azureml-deploy.known-good"], tags["azureml-deploy.kept"]) == ("blue", "green")
    again = app.run("rollback", *KEPT)
    assert again.returncode == 0, again.stderr
    assert color(app, outputs) == "two"


def test_rollback_with_nothing_kept_says_how_to_keep_one(app: App) -> None:
    app.outputs()
    app.server_deploy_file(color="two")
    app.outputs()
    result = app.run("rollback")
    assert result.returncode == 1
    assert "has no deployment kept for rollback" in result.stderr
    assert "rollout.keep_previous: true (or a duration such as 24h)" in result.stderr


def canary_left_at_a_step(app: App) -> dict[str, str]:
    """v1 serving, v2's canary at 50 % when its run is lost (SIGKILL during the watch)."""
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=120)
    outputs = app.outputs(*PRODUCTION)
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=120, color="two")
    process = app.start("deploy", *PRODUCTION)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("→ watch green"):
            process.send_signal(signal.SIGKILL)
            break
    stdout, rest = process.communicate(timeout=60)
    app.record("deploy (killed during the canary)", stdout, "".join(lines) + rest)
    assert app.endpoint("models")["properties"]["traffic"] == {"blue": 50, "green": 50}
    return outputs


def test_promote_finishes_a_canary_its_run_left_at_a_step(app: App) -> None:
    outputs = canary_left_at_a_step(app)
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=1, color="two")
    promoted = app.run("promote", *PRODUCTION)
    assert promoted.returncode == 0, promoted.stderr
    assert "→ smoke-test deployment green" in promoted.stderr
    assert app.endpoint("models")["properties"]["traffic"] == {"green": 100}
    assert [d["name"] for d in app.endpoint("models")["deployments"]] == ["green"]
    assert color(app, outputs) == "two"


def test_abort_stops_a_canary_and_retires_the_candidate(app: App) -> None:
    outputs = canary_left_at_a_step(app)
    aborted = app.run("abort", *PRODUCTION)
    assert aborted.returncode == 0, aborted.stderr
    assert app.endpoint("models")["properties"]["traffic"] == {"blue": 100}
    assert [d["name"] for d in app.endpoint("models")["deployments"]] == ["blue"]
    assert color(app, outputs) == "one"
    tags = app.endpoint("models")["tags"]
    assert "azureml-deploy.candidate" not in tags and "azureml-deploy.lease-holder" not in tags


def test_promote_and_abort_with_no_rollout_in_progress(app: App) -> None:
    app.outputs()
    promoted = app.run("promote")
    assert promoted.returncode == 1
    assert "has no rollout to promote" in promoted.stderr
    aborted = app.run("abort")
    assert aborted.returncode == 0, aborted.stderr
    assert "nothing to abort" in aborted.stderr


def test_cleanup_retires_a_kept_deployment_once_its_time_is_up(app: App) -> None:
    from tests.emulator.arm import Arm

    keep_previous(app, "one", keep='"24h"')
    app.outputs(*KEPT)
    keep_previous(app, "two", keep='"24h"')
    app.outputs(*KEPT)
    assert app.run("cleanup").returncode == 0
    assert len(app.endpoint("models")["deployments"]) == 2  # not yet
    arm = Arm(app.emulator)  # a day later
    current = arm.call("GET", arm.ws("/onlineEndpoints/models")).json()
    current["tags"]["azureml-deploy.kept-until"] = "2020-01-01T00:00:00Z"
    assert arm.call("PUT", arm.ws("/onlineEndpoints/models"), current).status_code == 200
    app.emulator.wait_idle()
    swept = app.run("cleanup")
    assert swept.returncode == 0, swept.stderr
    assert [d["name"] for d in app.endpoint("models")["deployments"]] == ["green"]
    assert "azureml-deploy.kept" not in app.endpoint("models")["tags"]
