"""The hostile-input scenarios of `make reliability`: what the attacks of the attacker suite
cost the action, measured. `make test` asserts their goals in tests/security (test_bounds.py
for the bounded inputs; the model server and the pull requests in more detail there)."""

from __future__ import annotations

import subprocess
import time
import tracemalloc
from pathlib import Path

from bench.measure import registry_blobs
from deployer.smoke import MAX_RESPONSE_BYTES, smoke_test
from deployer.spec.model import SmokeTestSpec
from tools.attacks import (
    deep_event,
    hostile_http_server,
    hostile_preview,
    merge_bomb,
    merge_flood,
)
from tools.checks import mutating_arm_calls, runner_problems
from tools.images import ROOT
from tools.launcher import SCRIPT
from tools.reliability.scanner import issued_secrets
from tools.reliability.scenarios import AppFactory, Outcome
from tools.runner.log import replay_streams

AREA = "hostile input"
CLI = SCRIPT  # started the ordinary way below: the validate goal times a cold start
VALIDATE_GOAL_SECONDS = 2.0


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run(
        [CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def yaml_expansion(workdir: Path, name: str, text: str) -> Outcome:
    folder = workdir / name.split(maxsplit=1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deploy.yml").write_text(text)
    code, output, seconds = _cli("validate", cwd=folder)
    clean = code == 1 and "Traceback" not in output
    return Outcome(
        AREA,
        name,
        f"validate refuses it (exit 1) in under {VALIDATE_GOAL_SECONDS:g} s",
        clean and seconds < VALIDATE_GOAL_SECONDS,
        {"bytes": len(text), "exit_code": code, "seconds": round(seconds, 2)},
        output[-600:],
    )


def deep_event_payload(workdir: Path) -> Outcome:
    event = workdir / "event.json"
    event.write_text(deep_event())
    code, output, seconds = _cli(
        "plan",
        "--config",
        str(ROOT / "examples" / "credit-risk" / "deploy.yml"),
        cwd=ROOT,
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_WORKSPACE": str(ROOT),
        },
    )
    clean = code == 2 and "nested too deeply" in output and "internal error" not in output
    return Outcome(
        AREA,
        "an event payload nested 100,000 deep",
        "refused with exit 2 and a message, not 'internal error: RecursionError'",
        clean,
        {"bytes": event.stat().st_size, "exit_code": code, "seconds": round(seconds, 2)},
        output[-600:],
    )


def _smoke_spec(workdir: Path, timeout: int, schema: bool) -> SmokeTestSpec:
    (workdir / "request.json").write_text("{}")
    (workdir / "schema.json").write_text('{"type": "object"}')
    return SmokeTestSpec(
        request=(workdir / "request.json").resolve(),
        expect_body_schema=(workdir / "schema.json").resolve() if schema else None,
        timeout_seconds=timeout,
        attempts=1,
    )


def trickling_answer(workdir: Path, timeout: int = 5) -> Outcome:
    with hostile_http_server() as (url, _):
        started = time.monotonic()
        result = smoke_test(_smoke_spec(workdir, timeout, False), f"{url}/trickle", "k", "blue")
        seconds = time.monotonic() - started
    return Outcome(
        AREA,
        f"a smoke-test answer trickled at 1 byte/s (timeout_seconds: {timeout})",
        "the attempt fails at its timeout (before: every byte restarted the timeout)",
        not result.passed and seconds < timeout + 1,
        {"seconds": round(seconds, 2)},
        result.detail,
    )


def huge_answer(workdir: Path) -> Outcome:
    with hostile_http_server() as (url, handler):
        tracemalloc.start()
        result = smoke_test(_smoke_spec(workdir, 30, True), f"{url}/big", "k", "blue")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        time.sleep(0.5)
        sent = handler.sent
    peak_mib = peak / 2**20
    return Outcome(
        AREA,
        "a 300 MB smoke-test answer",
        f"at most {MAX_RESPONSE_BYTES // 2**20} MiB kept; the test fails saying why",
        not result.passed and "longer than" in result.detail and peak_mib < 32,
        {"peak_mib": round(peak_mib, 1), "server_sent_mib": round(sent / 2**20, 1)},
        result.detail,
    )


def hostile_text(new_app: AppFactory) -> Outcome:
    """The hostile model server as a pull request's preview: its LABEL, build output, log and
    answers all try to command the runner."""
    app = new_app()
    folder = app.root.parent / f"{app.root.name}-hostile"
    run = hostile_preview(app, folder)
    runner = replay_streams(run.result.stdout, run.result.stderr)
    hostile_lines = [
        line for line in run.result.stdout.splitlines() if "INJECTED" in line or "##" in line
    ]
    problems = runner_problems(app, issued_secrets(app.emulator, 0))
    return Outcome(
        AREA,
        "a model server whose label, build output, log and answers are workflow commands",
        "every line printed as text: no command but the action's own, keys masked first",
        run.result.returncode == 1 and not problems and not runner.stopped,
        {
            "hostile_lines_printed": len(hostile_lines),
            "commands_processed": len(runner.commands),
            "commands_not_the_actions": len(problems),
        },
        "\n".join(problems),
    )


# (edit of the deploy file, environment deployed): the pull request's own deploy file
PULL_REQUEST_ATTACKS = {
    "a preview named like production": (
        ('endpoint: {name: "pr{pr}-models"}', "endpoint: {name: models}"),
        "preview",
    ),
    "an environment that allows pull requests, named like production": (
        ("environments:\n", "environments:\n  sneaky: {allow_pull_requests: true}\n"),
        "sneaky",
    ),
}


def pull_requests_at_production(new_app: AppFactory) -> Outcome:
    app = new_app()
    folder = app.root.parent / f"{app.root.name}-jobs"
    deploy = app.root / "server" / "deploy.yml"
    base = deploy.read_text()
    release = app.in_a_job(
        "deploy",
        folder / "release",
        "--environment",
        "production",
        env={"GITHUB_SHA": app.commit("v1")},
    )
    before = app.endpoint("models")
    refused = changed = pushed = 0
    for number, ((old, new), environment) in enumerate(PULL_REQUEST_ATTACKS.values(), 7):
        assert old in base
        deploy.write_text(base.replace(old, new))
        sha = app.commit(f"pull request {number}")
        since, blobs = app.emulator.last_request(), registry_blobs(app.emulator)
        run = app.in_a_job(
            "deploy",
            folder / str(number),
            "--environment",
            environment,
            pull_request=number,
            env={"GITHUB_SHA": sha},
        )
        refused += run.result.returncode == 1
        changed += len(mutating_arm_calls(app, since))
        pushed += len(set(registry_blobs(app.emulator)) - set(blobs))
    after = app.endpoint("models")
    untouched = (
        before is not None
        and after is not None
        and (
            before["properties"]["traffic"] == after["properties"]["traffic"]
            and before["deployments"] == after["deployments"]
        )
    )
    attempts = len(PULL_REQUEST_ATTACKS)
    return Outcome(
        AREA,
        "pull requests aimed at the production endpoint",
        "refused (exit 1) before any change; production serves as before",
        release.result.returncode == 0 and refused == attempts and not changed and untouched,
        {
            "attempts": attempts,
            "refused": refused,
            "azure_changes": changed,
            "blobs_pushed": pushed,
            "production_untouched": untouched,
        },
        release.result.stdout[-600:],
    )


def all_cases(workdir: Path, new_app: AppFactory) -> list[Outcome]:
    return [
        yaml_expansion(workdir, "a YAML merge-key bomb (ten nested levels)", merge_bomb()),
        yaml_expansion(workdir, "merge keys flooding the node budget", merge_flood()),
        deep_event_payload(workdir),
        trickling_answer(workdir),
        huge_answer(workdir),
        hostile_text(new_app),
        pull_requests_at_production(new_app),
    ]
