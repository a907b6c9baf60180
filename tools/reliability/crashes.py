"""Crash-consistency and one-run-at-a-time, against the emulator with the real command line:

- a deploy killed (SIGKILL: a runner lost) after each of its mutating calls in turn, then run
  again, under continuous load: every re-run converges, and no request fails;
- a second run started during a first run's canary: it waits for the first (or, with
  `--no-wait`, refuses at once naming it); each run's outputs name the image that served when it
  finished, and the run that finishes last is the one serving.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from tools.checks import mutating_arm_calls
from tools.reliability.scenarios import PRODUCTION, AppFactory, Outcome, Settings, load_on
from tools.repo import App

AREA = "faults"
WATCH_SECONDS = 1  # canary steps in the kill runs: short, the watch still runs


def _state(app: App) -> tuple[dict[str, int], list[str], dict[str, str]]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    traffic = {k: v for k, v in endpoint["properties"]["traffic"].items() if v}
    deployments = sorted(d["name"] for d in endpoint["deployments"])
    return traffic, deployments, dict(endpoint["tags"])


def _color_served(app: App, outputs: dict[str, str]) -> str | None:
    answer = app.score(outputs)
    return str(answer.json().get("color")) if answer.status_code == 200 else None


def _kill_after(
    app: App, process: subprocess.Popen[str], since: int, calls: int
) -> Callable[[], bool]:
    """SIGKILL `process` once `calls` mutating ARM calls have been answered; whether it did."""
    done = threading.Event()
    killed = [False]

    def watch() -> None:
        while not done.is_set() and process.poll() is None:
            if len(mutating_arm_calls(app, since)) >= calls:
                process.send_signal(signal.SIGKILL)
                killed[0] = True
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()

    def finish() -> bool:
        done.set()
        thread.join(timeout=5)
        return killed[0]

    return finish


def _outputs_of(
    app: App, args: tuple[str, ...]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    path = app.root.parent / f"{app.root.name}-rerun.json"
    path.unlink(missing_ok=True)
    result = app.deploy("--output-json", str(path), *args)
    return result, (json.loads(path.read_text()) if path.exists() else {})


def killed_at_every_step(new_app: AppFactory, settings: Settings, *, canary: bool) -> Outcome:
    """For each mutating call k of a rollout: a new version's deploy killed after call k, then
    the same deploy again. After each pair: that version serves 100 % (the re-run passed every
    check), nothing of the action's is idle, and the record holds no candidate or lease."""
    name = f"{'canary' if canary else 'blue-green'} rollout killed after each step, then run again"
    app = new_app()
    args = PRODUCTION if canary else ()
    steps = "[25, 50, 100]" if canary else "[50, 100]"
    app.server_deploy_file(canary_steps=steps, step_wait=WATCH_SECONDS, color="v0")
    first = app.outputs(*args)
    # One clean rollout, to count its mutating calls.
    app.server_deploy_file(canary_steps=steps, step_wait=WATCH_SECONDS, color="v1")
    since = app.emulator.last_request()
    clean = app.deploy(*args)
    calls = len(mutating_arm_calls(app, since))
    load = load_on(app, first, settings, seconds=900)
    tried = converged = 0
    problems: list[str] = []
    with load:
        for kill in range(1, calls + 1):
            color = f"k{kill}"
            app.server_deploy_file(canary_steps=steps, step_wait=WATCH_SECONDS, color=color)
            since = app.emulator.last_request()
            process = app.start("deploy", *args)
            finish = _kill_after(app, process, since, kill)
            stdout, stderr = process.communicate(timeout=600)
            app.record(f"deploy (killed after call {kill})", stdout, stderr)
            if not finish():
                problems.append(f"call {kill}: the run ended before it could be killed")
                continue
            tried += 1
            rerun, outputs = _outputs_of(app, args)
            traffic, deployments, tags = _state(app)
            served = _color_served(app, outputs) if outputs else None
            serving = list(traffic)
            ok = (
                rerun.returncode == 0
                and len(serving) == 1
                and traffic[serving[0]] == 100
                and deployments == serving
                and served == color
                and "azureml-deploy.candidate" not in tags
                and "azureml-deploy.lease-holder" not in tags
            )
            converged += ok
            if not ok:
                problems.append(
                    f"call {kill}: re-run exit {rerun.returncode}, traffic {traffic}, "
                    f"deployments {deployments}, serves {served}: {rerun.stderr[-600:]}"
                )
    figures = load.figures
    return Outcome(
        AREA,
        name,
        "every re-run converges: the new version serves 100 % after its checks, nothing "
        "left idle; no request fails",
        clean.returncode == 0 and tried == calls and converged == tried and figures.failed == 0,
        {
            "kill_points": calls,
            "tried": tried,
            "converged": converged,
            "sent": figures.sent,
            "failed": figures.failed,
            "failures": dict(figures.failures),
        },
        detail="\n".join(problems),
    )


def _start_after(app: App, process: subprocess.Popen[str], marker: str) -> list[str]:
    """`process`'s log lines up to the one starting with `marker`."""
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith(marker):
            break
    return lines


def concurrent_runs(new_app: AppFactory, *, wait: bool) -> Outcome:
    """Run B started during run A's canary watch (B deploys a newer version)."""
    app = new_app()
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=6, color="v1")
    app.outputs(*PRODUCTION)
    # A watches long enough that B, started once A's watch begins, meets A's lease even on
    # a loaded machine (at 6 s, a slow start of B could arrive after A had finished).
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=20, color="a")
    out_a = app.root.parent / f"{app.root.name}-a.json"
    out_b = app.root.parent / f"{app.root.name}-b.json"
    a = app.start("deploy", *PRODUCTION, "--output-json", str(out_a))
    head = _start_after(app, a, "→ watch ")
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=1, color="b")
    b_args = (*PRODUCTION, "--output-json", str(out_b), *(() if wait else ("--no-wait",)))
    started = time.monotonic()
    b = app.start("deploy", *b_args)
    b_out, b_err = b.communicate(timeout=600)
    b_seconds = time.monotonic() - started
    a_out, a_rest = a.communicate(timeout=600)
    a_err = "".join(head) + a_rest
    app.record("deploy (run A)", a_out, a_err)
    app.record("deploy (run B)", b_out, b_err)
    traffic, deployments, _ = _state(app)
    a_outputs = json.loads(out_a.read_text()) if out_a.exists() else {}
    b_outputs = json.loads(out_b.read_text()) if out_b.exists() else {}
    final = b_outputs or a_outputs
    served = _color_served(app, final) if final else None
    waited = "waiting: another run is changing endpoint models" in b_err
    if wait:
        ok = (
            a.returncode == 0
            and b.returncode == 0
            and waited
            and served == "b"  # the run that finished last serves
            and a_outputs.get("image") != b_outputs.get("image")
            and deployments == list(traffic)
        )
        goal = "B waits for A (naming it); A's outputs name A's image; B, finishing last, serves"
    else:
        ok = (
            a.returncode == 0
            and b.returncode == 1
            and "not waiting (--no-wait)" in b_err
            and "is being changed by run local/" in b_err
            and served == "a"
        )
        goal = "B refuses at once, naming A; A finishes and serves"
    return Outcome(
        AREA,
        f"a second run during a canary ({'waits' if wait else '--no-wait'})",
        goal,
        ok,
        {
            "exit_codes": [a.returncode, b.returncode],
            "b_seconds": round(b_seconds, 1),
            "b_waited": waited,
            "serving": served,
            "traffic_after": traffic,
        },
        detail=f"A:\n{a_err[-800:]}\n---\nB:\n{b_err[-800:]}",
    )


def cases(new_app: AppFactory, settings: Settings) -> list[Outcome]:
    return [
        killed_at_every_step(new_app, settings, canary=False),
        killed_at_every_step(new_app, settings, canary=True),
        concurrent_runs(new_app, wait=True),
        concurrent_runs(new_app, wait=False),
    ]
