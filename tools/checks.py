"""What every end-to-end test checks after it ran, whatever it tested: every run's output and
every file it left, searched for every secret the emulator issued; every run's output read as
the runner reads it (no workflow command but the action's own, no secret before its mask)."""

from __future__ import annotations

from emulator.client import Emulator
from tools.reliability.scanner import issued_secrets, scan_runs
from tools.repo import App
from tools.runner.log import foreign_commands, replay_streams


def after_runs(emulator: Emulator, app: App, since: int) -> list[str]:
    """Everything wrong with what `app`'s runs printed or left behind; empty when all is well."""
    findings = scan_runs(emulator, [app], since, [app.root])
    problems = [f"secret leaked: {leak}" for leak in findings.leaks]
    return problems + runner_problems(app, issued_secrets(emulator, since))


def runner_problems(app: App, secrets: list[str]) -> list[str]:
    """What the runner would make of each run's output that it must not: a command the action
    did not write, a stop-commands left on, a secret shown before its mask."""
    problems = []
    for name in app.transcript:
        if not name.endswith("(stdout)") or "step summary" in name:
            continue
        run = name.removesuffix(" (stdout)")
        result = replay_streams(app.transcript[name], app.transcript[f"{run} (stderr)"], secrets)
        problems += [f"{run}: {found}" for found in foreign_commands(result)]
        problems += [f"{run}: {leak}" for leak in result.leaks]
        if result.stopped:
            problems.append(f"{run}: commands were stopped and never resumed")
    return problems


MUTATING = {"PUT", "PATCH", "DELETE"}
READ_ONLY_POSTS = ("/listKeys", "/token", "/getLogs")


def mutating_arm_calls(app: App, since: int) -> list[str]:
    """Every request since `since` that changed something in Azure ML."""
    calls = []
    for entry in app.emulator.requests_since(since, part="arm"):
        method, path = entry["method"], entry["path"]
        if method in MUTATING or (method == "POST" and not path.endswith(READ_ONLY_POSTS)):
            calls.append(f"{method} {path}")
    return calls
