"""The reliability scenarios: each runs the real command line against the emulator and returns
its figures and whether its goal was met. `make test` runs them with FAST settings and asserts
the goals; `make reliability` runs them with FULL settings and writes docs/reliability.md.

Every run's output is kept in its App's transcript; the secret scan reads those afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.client import Emulator
from tools.images import ROOT
from tools.reliability.load import Load
from tools.repo import App
from tools.runner.job import Event, StepPaths, job_environment, without_job_variables
from tools.runner.log import foreign_commands, replay_streams

PRODUCTION = ("--environment", "production")
AppFactory = Callable[[], App]


@dataclass(frozen=True)
class Settings:
    label: str
    rate: float  # scoring requests per second during rollouts
    canary_wait: int  # seconds each canary step is watched
    fuzz_examples: int  # generated deploy files tried through the command line


FAST = Settings("fast", rate=20, canary_wait=4, fuzz_examples=25)
FULL = Settings("full", rate=20, canary_wait=12, fuzz_examples=300)

# A canary that dies mid-rollout fails requests until the deployer notices and restores traffic:
# the one zero-downtime goal that is bounded rather than met (docs/reliability.md, gaps).
FAILING_CANARY_BOUND_SECONDS = 4


@dataclass
class Outcome:
    area: str
    name: str
    goal: str
    met: bool
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""


def _traffic(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {k: v for k, v in endpoint["properties"]["traffic"].items() if v}


def _deployments(app: App) -> list[str]:
    endpoint = app.endpoint("models")
    return sorted(d["name"] for d in endpoint["deployments"]) if endpoint else []


def _endpoints(app: App) -> list[str]:
    return sorted(e["name"] for e in app.emulator.admin("GET", "/state")["endpoints"])


# --- 1. zero-downtime rollouts ---------------------------------------------------------------


def load_on(app: App, outputs: dict[str, str], settings: Settings, seconds: float = 300) -> Load:
    """Scoring `app`'s endpoint (from a deploy's outputs) at the settings' rate, for at most
    `seconds`."""
    return Load(
        outputs["scoring-uri"],
        outputs["primary-key"],
        (app.root / "server" / "request.json").read_bytes(),
        ca_bundle=app.emulator["ca_bundle"],
        rate=settings.rate,
        max_seconds=seconds,
    )


def rollout_under_load(
    app: App,
    settings: Settings,
    *,
    name: str,
    new_version: dict[str, Any],
    canary: bool = False,
    expect_success: bool,
    midway: Callable[[App], None] | None = None,
) -> Outcome:
    """Deploy v1, then roll out `new_version` while scoring continuously."""
    args = PRODUCTION if canary else ()
    steps = "[25, 50, 100]" if canary else "[50, 100]"
    app.server_deploy_file(canary_steps=steps, step_wait=settings.canary_wait)
    first = app.outputs(*args)
    app.server_deploy_file(canary_steps=steps, step_wait=settings.canary_wait, **new_version)
    load = load_on(app, first, settings)
    with load:
        time.sleep(1.0)
        result = app.deploy(*args) if midway is None else _with_midway(app, args, midway)
        time.sleep(1.0)
    figures = load.figures
    traffic = _traffic(app)
    if expect_success:
        ok = result.returncode == 0 and traffic == {"green": 100}
        goal = "0 failed requests; the new deployment serves 100 % at the end"
    else:
        ok = result.returncode == 1 and traffic == {"blue": 100} and _deployments(app) == ["blue"]
        goal = (
            "0 failed requests; the failure is reported; the old deployment serves 100 % at the end"
        )
    return Outcome(
        "zero downtime",
        name,
        goal,
        ok and figures.failed == 0,
        {
            **figures.as_dict(),
            "exit_code": result.returncode,
            "traffic_after": traffic,
            "end_state_ok": ok,
        },
        detail=result.stderr[-1500:],
    )


def _with_midway(
    app: App, args: tuple[str, ...], midway: Callable[[App], None]
) -> subprocess.CompletedProcess[str]:
    """Runs a deploy and calls `midway` when it starts watching its canary."""
    process = app.start("deploy", *args)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("→ watch "):
            midway(app)
            break
    stdout, rest = process.communicate(timeout=600)
    stderr = "".join(lines) + rest
    app.record("deploy (canary failing half-way)", stdout, stderr)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


ROLLOUT_CASES = (
    "(a) blue-green to a good image",
    "(b) canary to a good image",
    "(c) blue-green to an image that crashes",
    "(d) blue-green to an image that never becomes ready",
    "(e) blue-green to an image that fails the smoke test",
    "(f) a canary that starts failing half-way",
)


def zero_downtime_case(new_app: AppFactory, settings: Settings, name: str) -> Outcome:
    # the canary goes unready after about half of the requests it gets in a [25, 50, 100] rollout
    half_way = max(4, int(settings.rate * settings.canary_wait * 0.5))

    def failing_canary(app: App) -> None:
        app.emulator.fault(
            part="dataplane", kind="unready_after", path="/deployments/green", count=half_way
        )

    version: dict[str, Any]
    canary, success, midway = False, False, None
    if name.startswith(("(a)", "(b)")):
        version, success, canary = {"color": "two"}, True, name.startswith("(b)")
    elif name.startswith("(c)"):
        version = {"mode": "crash"}
    elif name.startswith("(d)"):
        version = {"mode": "never-ready"}
    elif name.startswith("(e)"):
        version = {"score_status": 500}
    else:
        version, canary, midway = {"color": "two"}, True, failing_canary
    return rollout_under_load(
        new_app(),
        settings,
        name=name,
        new_version=version,
        canary=canary,
        expect_success=success,
        midway=midway,
    )


# --- 2. faults -----------------------------------------------------------------------------------

RECOVER = "succeeds; the new deployment serves 100 %; nothing left behind"
FAIL = "fails with the cause; the old deployment still serves 100 %; nothing left behind"


@dataclass(frozen=True)
class FaultCase:
    name: str
    faults: tuple[dict[str, Any], ...]
    expect_success: bool
    expect_message: str = ""
    before: Callable[[Emulator], object] | None = None

    @property
    def faults_requests(self) -> bool:
        """Its faults act on requests (and show in the request log), not on operations."""
        return all(fault["kind"] in ("status", "drop", "delay") for fault in self.faults)


# Entra access tokens outlive azure-identity's refresh back-off: within 30 s of its last token
# request it hands out the cached token until the very second it expires
# (DEFAULT_TOKEN_REFRESH_RETRY_DELAY, azure/identity/_internal/utils.py get_refresh_status), so a
# token living less than that can reach ARM already expired on a busy machine, which real
# tokens (an hour or more) never do.
SHORT_ACCESS_TOKEN_SECONDS = 35
SHORT_ID_TOKEN_SECONDS = 12


def _short_tokens(emulator: Emulator) -> None:
    # Both shorter than the deployment (SHORT_TOKEN_DEPLOYMENT_SECONDS): the ARM token expires
    # while it provisions, and signing in again needs an ID token newer than the first one.
    emulator.github_job(lifetime=SHORT_ID_TOKEN_SECONDS)
    emulator.admin("POST", "/entra", {"token_lifetime_seconds": SHORT_ACCESS_TOKEN_SECONDS})


SHORT_TOKEN_DEPLOYMENT_SECONDS = SHORT_ACCESS_TOKEN_SECONDS + 5


FAULT_CASES = (
    FaultCase(
        "429 bursts with Retry-After",
        ({"kind": "status", "status": 429, "retry_after": 1, "count": 4, "method": "PUT"},),
        expect_success=True,
    ),
    FaultCase(
        "500/503 bursts",
        (
            {"kind": "status", "status": 503, "count": 2, "method": "GET"},
            {"kind": "status", "status": 500, "count": 1, "method": "GET"},
            {"kind": "status", "status": 503, "count": 2, "method": "PUT"},
        ),
        expect_success=True,
    ),
    FaultCase(
        "dropped connections",
        ({"kind": "drop", "count": 3, "method": "GET"},),
        expect_success=True,
    ),
    FaultCase(
        "a slow control plane (the first 20 requests take 1 s each)",
        ({"kind": "delay", "delay_seconds": 1, "count": 20},),
        expect_success=True,
    ),
    FaultCase(
        "an operation ending Failed",
        (
            {
                "kind": "lro_fail",
                "path": "/deployments/green",
                "code": "InternalServerError",
                "message": "the node pool failed",
            },
        ),
        expect_success=False,
        expect_message="the node pool failed",
    ),
    FaultCase(
        "registry push refused, then accepted",
        (
            {
                "part": "acr",
                "kind": "status",
                "status": 401,
                "count": 2,
                "path": "/oauth2/token",
                "query": "push",
            },
        ),
        expect_success=True,
    ),
    FaultCase(
        "ID tokens shorter-lived than the deployment",
        (
            {
                "kind": "provisioning_delay",
                "path": "/deployments/green",
                "delay_seconds": SHORT_TOKEN_DEPLOYMENT_SECONDS,
            },
        ),
        expect_success=True,
        before=_short_tokens,
    ),
)


def fault_case(new_app: AppFactory, case: FaultCase) -> Outcome:
    app = new_app()
    app.outputs()
    app.server_deploy_file(color="two")
    if case.before is not None:
        case.before(app.emulator)
    since = app.emulator.last_request()
    for fault in case.faults:
        app.emulator.fault(**fault)
    started = time.monotonic()
    result = app.deploy()
    seconds = time.monotonic() - started
    app.emulator.wait_idle(60)
    traffic, deployments = _traffic(app), _deployments(app)
    calls = app.emulator.requests_since(since)
    faulted = [e for e in calls if e.get("fault")]
    if case.expect_success:
        ok = result.returncode == 0 and traffic == {"green": 100} and deployments == ["green"]
    else:
        ok = (
            result.returncode == 1
            and case.expect_message in result.stderr
            and traffic == {"blue": 100}
            and deployments == ["blue"]
        )
    ok = ok and "Traceback" not in result.stderr and _endpoints(app) == ["models"]
    return Outcome(
        "faults",
        case.name,
        RECOVER if case.expect_success else FAIL,
        ok,
        {
            "exit_code": result.returncode,
            "seconds": round(seconds, 1),
            "faulted_requests": len(faulted),
            "id_tokens": sum(e["part"] == "github" for e in calls),
            "traffic_after": traffic,
            "deployments_after": deployments,
        },
        detail=result.stderr[-1500:],
    )


def cancelled_mid_rollout(new_app: AppFactory) -> Outcome:
    """SIGTERM while Azure creates the new deployment, then the next run."""
    app = new_app()
    app.outputs()
    app.server_deploy_file(color="two")
    app.emulator.fault(kind="provisioning_delay", path="/deployments/green", delay_seconds=10)
    process = app.start("deploy")
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("→ create deployment green"):
            time.sleep(2)
            process.send_signal(signal.SIGTERM)
            break
    stdout, rest = process.communicate(timeout=300)
    log = "".join(lines) + rest
    app.record("deploy (cancelled)", stdout, log)
    traffic_after_cancel = _traffic(app)
    left_after_cancel = [name for name in _deployments(app) if name != "blue"]
    rerun = app.deploy()
    traffic, deployments = _traffic(app), _deployments(app)
    ok = (
        process.returncode == 130
        and traffic_after_cancel == {"blue": 100}
        and "Traceback" not in log
        and (not left_after_cancel or "the next run takes the rollout from there" in log)
        and rerun.returncode == 0
        and traffic == {"green": 100}
        and deployments == ["green"]
    )
    return Outcome(
        "faults",
        "cancelled (SIGTERM) mid-rollout, then run again",
        "exit 130; the old deployment still serves 100 %; anything left is named in the log and "
        "gone after the next run",
        ok,
        {
            "exit_code": process.returncode,
            "traffic_after_cancel": traffic_after_cancel,
            "left_after_cancel": left_after_cancel,
            "next_run_exit_code": rerun.returncode,
            "deployments_after_next_run": deployments,
        },
        detail=log[-1500:] + "\n---\n" + rerun.stderr[-1000:],
    )


def _wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)


def two_runs_at_once(new_app: AppFactory) -> Outcome:
    app = new_app()
    app.outputs()
    app.server_deploy_file(color="two")
    first = app.start("deploy")
    time.sleep(0.5)
    second = app.start("deploy")
    results = []
    for index, process in enumerate((first, second)):
        stdout, stderr = process.communicate(timeout=600)
        app.record(f"deploy (concurrent run {index + 1})", stdout, stderr)
        results.append((process.returncode, stderr))
    app.emulator.wait_idle(60)
    codes = [code for code, _ in results]
    traffic = _traffic(app)
    serving = [name for name, share in traffic.items() if share == 100]
    ok = (
        codes == [0, 0]
        and len(serving) == 1
        and _deployments(app) == serving
        and all("Traceback" not in err for _, err in results)
    )
    # the run that lost the race for the lease says so and waits; the other does not wait
    waited = sum("waiting: " in err for _, err in results)
    return Outcome(
        "faults",
        "two runs deploying the same endpoint at once",
        "both succeed, one after the other: the run that finds the lease held waits for it, "
        "then plans again; one deployment serves 100 %; nothing left behind",
        ok and waited == 1,
        {
            "exit_codes": codes,
            "runs_that_waited": waited,
            "traffic_after": traffic,
            "deployments_after": _deployments(app),
        },
        detail="\n---\n".join(err[-800:] for _, err in results),
    )


# --- 3. bad input --------------------------------------------------------------------------------

BROKEN_DEPLOY_FILES: dict[str, str] = {
    "empty file": "",
    "not YAML": "version: 1\nendpoint: [unclosed\n",
    "a list": "- a\n- b\n",
    "tabs": "version: 1\nendpoint:\n\tname: x\n",
    "duplicate keys": "version: 1\nversion: 1\n",
    "self-referencing anchor": "version: 1\nloop: &a [*a]\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 10)}]\n" for i in range(1, 9)
    ),
    "unsafe tag": "version: !!python/object/apply:os.system ['true']\n",
    "wrong version": "version: 2\n",
    "misspelt key": "version: 1\nendpont: {name: x}\n",
    "binary garbage": "\x00\x01\x02\x7f",
}


def broken_files(valid: str) -> dict[str, str | bytes]:
    """The hand-written corpus: whole broken files, and the valid file with one thing wrong."""
    files: dict[str, str | bytes] = dict(BROKEN_DEPLOY_FILES)
    one_thing_wrong = {
        "bad endpoint name": ("name: models", "name: 1_Bad_Name!"),
        "negative instance count": ("instance_count: 1", "instance_count: -3"),
        "instance count as text": ("instance_count: 1", "instance_count: three"),
        "unknown strategy": ("strategy: blue-green", "strategy: yolo"),
        "canary steps not ending at 100": ("[50, 100]", "[50, 90]"),
        "request file outside the workspace": (
            "request: request.json",
            "request: ../../../../etc/passwd",
        ),
        "missing request file": ("request: request.json", "request: nowhere.json"),
        "port out of range": ("port: 5001, path: /score", "port: 70000, path: /score"),
        "newline injection in a name": ("name: models", 'name: "models\\n::add-mask::x"'),
        "unknown placeholder": ("pr{pr}-", "pr{nope}-"),
        "ttl on production": ("canary_steps", "ttl_hours: -1, canary_steps"),
    }
    for what, (old, new) in one_thing_wrong.items():
        assert old in valid, what
        files[what] = valid.replace(old, new, 1)
    files["not UTF-8"] = valid.encode().replace(b"models", b"mod\xffels", 1)
    return files


def _no_calls(emulator: Emulator, since: int) -> bool:
    """Nothing reached Azure, Entra, the registry or the GitHub token service (the admin
    API is the test's own)."""
    return all(entry["part"] == "admin" for entry in emulator.requests_since(since))


@dataclass
class Tally:
    tried: int = 0
    refused_cleanly: int = 0
    deployed: int = 0  # generated files that were still valid (then they deploy)
    problems: list[str] = field(default_factory=list)

    def check(
        self,
        what: str,
        result: subprocess.CompletedProcess[str],
        no_calls: bool,
        codes: tuple[int, ...] = (1, 2),
        expect: str = "",
    ) -> None:
        """Refused cleanly: the right exit code, the expected explanation, no traceback, no
        call made, and no workflow command smuggled into the output."""
        self.tried += 1
        text = (result.stdout or "") + (result.stderr or "")
        runner = replay_streams(result.stdout or "", result.stderr or "")
        injected = foreign_commands(runner) + (["stop-commands"] if runner.stopped else [])
        clean = result.returncode in codes and "Traceback" not in text and expect in text
        if clean and no_calls and not injected:
            self.refused_cleanly += 1
        else:
            self.problems.append(
                f"{what}: exit {result.returncode}, calls made: {not no_calls}, "
                f"injected: {injected[:1]}: {text[-400:]}"
            )

    def outcome(self, area: str, name: str, goal: str) -> Outcome:
        figures: dict[str, Any] = {"tried": self.tried, "refused cleanly": self.refused_cleanly}
        if self.deployed:
            figures["still valid (deployed)"] = self.deployed
        return Outcome(
            area,
            name,
            goal,
            self.refused_cleanly + self.deployed == self.tried,
            figures,
            "\n".join(self.problems),
        )


BAD_INPUT_GOAL = "exit 1 or 2, a clear message, no traceback, zero calls to Azure or the registry"


def bad_deploy_files(app: App) -> Outcome:
    server = app.root / "server"
    valid = (server / "deploy.yml").read_text()
    tally = Tally()
    for what, content in broken_files(valid).items():
        (server / "deploy.yml").write_bytes(
            content if isinstance(content, bytes) else content.encode()
        )
        since = app.emulator.last_request()
        result = app.deploy()
        # every problem with the file is reported at its file:line
        tally.check(what, result, _no_calls(app.emulator, since), expect="server/deploy.yml:")
    (server / "deploy.yml").write_text(valid)
    return tally.outcome("bad input", "deploy files: hand-written corpus", BAD_INPUT_GOAL)


def generated_deploy_files(app: App, examples: int) -> Outcome:
    """Hypothesis-generated mutations of the valid file, each through the real command line."""
    from hypothesis import HealthCheck, given, settings

    server = app.root / "server"
    valid = (server / "deploy.yml").read_text()
    tally = Tally()
    tried: set[str] = set()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(text=mutated_deploy_files(valid))
    def attempt(text: str) -> None:
        if text in tried:
            return
        tried.add(text)
        (server / "deploy.yml").write_text(text, errors="surrogatepass")
        since = app.emulator.last_request()
        result = app.run("plan")  # shares deploy's checks; a still-valid file is only planned
        if result.returncode == 0:
            tally.tried += 1
            tally.deployed += 1
            return
        tally.check(f"generated file:\n{text}", result, _no_calls(app.emulator, since))

    attempt()
    (server / "deploy.yml").write_text(valid)
    return tally.outcome(
        "bad input",
        "deploy files: generated by hypothesis (mutations of a valid file)",
        BAD_INPUT_GOAL,
    )


def mutated_deploy_files(valid: str) -> Any:
    from hypothesis import strategies as st

    lines = valid.splitlines()
    values = st.sampled_from(
        [
            "-1",
            "0",
            "yes",
            "'{pr}'",
            "[1, 2]",
            "{a: 1}",
            "''",
            "999999999999",
            "~",
            "/x",
            "canary",
            '"a\\nb"',
            "&x 1",
            "*x",
            "!!binary aGk=",
            "1e999",
            "é✓",
            "'::error::x'",
        ]
    )
    edit = st.tuples(
        st.integers(0, len(lines) - 1),
        st.sampled_from(["drop", "value", "cut", "indent", "text"]),
        values,
        st.integers(0, 80),
        st.text(max_size=12),
    )

    def apply(edits: list[tuple[int, str, str, int, str]]) -> str:
        mutated = list(lines)
        for position, kind, value, cut, text in edits:
            index = position % len(mutated)
            line = mutated[index]
            if kind == "drop":
                del mutated[index]
            elif kind == "value" and ":" in line:
                mutated[index] = f"{line.split(':', 1)[0]}: {value}"
            elif kind == "cut":
                mutated[index] = line[: cut % (len(line) + 1)]
            elif kind == "indent":
                mutated[index] = " " * (cut % 5) + line.lstrip()
            else:
                mutated[index] = line + text
            if not mutated:
                break
        return "\n".join(mutated) + "\n"

    return st.lists(edit, min_size=1, max_size=4).map(apply)


def bad_action_inputs(app: App) -> Outcome:
    tally = Tally()
    for what, environ, expect in _bad_action_inputs():
        since = app.emulator.last_request()
        result = entrypoint(app, environ)
        tally.check(what, result, _no_calls(app.emulator, since), expect=expect)
    return tally.outcome(
        "bad input", "action inputs: names, numbers, commands, paths, injections", BAD_INPUT_GOAL
    )


def bad_events(app: App) -> Outcome:
    tally = Tally()
    for what, event_name, event, ref, expect in _bad_events():
        since = app.emulator.last_request()
        result = entrypoint(
            app,
            {"INPUT_COMMAND": "deploy", "INPUT_ENVIRONMENT": "preview"},
            event_name=event_name,
            event=event,
            ref=ref,
        )
        tally.check(what, result, _no_calls(app.emulator, since), expect=expect)
    return tally.outcome(
        "bad input",
        "event payloads: no PR number, nested without end, odd refs and branch names",
        BAD_INPUT_GOAL,
    )


def _bad_action_inputs() -> list[tuple[str, dict[str, str], str]]:
    """(what, INPUT_* variables, a fragment of the expected explanation)."""
    injection = "x\n::add-mask::visible\n::set-output name=a::b"
    deploy = {"INPUT_COMMAND": "deploy"}
    return [
        ("unknown command", {"INPUT_COMMAND": "destroy"}, "invalid choice: 'destroy'"),
        ("workflow commands in the command", {"INPUT_COMMAND": injection}, "invalid choice"),
        ("unknown cloud", {**deploy, "INPUT_CLOUD": "Mars"}, "invalid choice: 'Mars'"),
        (
            "subscription id that is not a GUID",
            {**deploy, "INPUT_SUBSCRIPTION-ID": "not-a-guid"},
            "the subscription-id input is not valid",
        ),
        (
            "resource group with spaces",
            {**deploy, "INPUT_RESOURCE-GROUP": "rg with spaces"},
            "the resource-group input is not valid",
        ),
        (
            "workspace name too short",
            {**deploy, "INPUT_WORKSPACE": "w"},
            "the workspace input is not valid",
        ),
        (
            "client id that is not a GUID",
            {**deploy, "INPUT_CLIENT-ID": "client"},
            "the client-id input is not valid",
        ),
        (
            "tenant that is neither GUID nor domain",
            {**deploy, "INPUT_TENANT-ID": "not a tenant"},
            "the tenant-id input is not valid",
        ),
        (
            "image tag with spaces",
            {**deploy, "INPUT_IMAGE-TAG": "v1 with spaces"},
            "the image-tag input is not valid",
        ),
        ("build arg without =", {**deploy, "INPUT_BUILD-ARGS": "NOEQUALS"}, "NAME=VALUE"),
        (
            "config outside the workspace",
            {**deploy, "INPUT_CONFIG": "../../../../etc/passwd"},
            "outside the workspace",
        ),
        (
            "config given as an absolute path elsewhere",
            {**deploy, "INPUT_CONFIG": "/etc/hostname"},
            "outside the workspace",
        ),
        ("config that is a directory", {**deploy, "INPUT_CONFIG": "server"}, "is a directory"),
        ("config that does not exist", {**deploy, "INPUT_CONFIG": "nope.yml"}, "not found"),
        (
            "environment not in the deploy file",
            {**deploy, "INPUT_ENVIRONMENT": "staging"},
            "environment 'staging' is not defined",
        ),
        (
            "workflow commands in the environment",
            {**deploy, "INPUT_ENVIRONMENT": injection},
            "is not defined",
        ),
        (
            "workflow commands in the config path",
            {**deploy, "INPUT_CONFIG": injection},
            "not found",
        ),
        (
            "workflow commands in the workspace",
            {**deploy, "INPUT_WORKSPACE": injection},
            "the workspace input is not valid",
        ),
        (
            "workflow commands in the image tag",
            {**deploy, "INPUT_IMAGE-TAG": injection},
            "the image-tag input is not valid",
        ),
    ]


def _bad_events() -> list[tuple[str, str, dict[str, Any] | str, str, str]]:
    """(what, event name, payload (or its raw text), ref, a fragment of the expected
    explanation): a preview deploy needs the pull request's number."""
    pr, no_pr = "pull_request", "uses {pr}, but this run has no pr"
    no_number = "names no pull request number"
    opened = {"action": "opened"}
    return [
        (
            "pull_request without a number",
            pr,
            {**opened, "pull_request": {}},
            "refs/pull/1/merge",
            no_number,
        ),
        (
            "number that is a string",
            pr,
            {**opened, "pull_request": {"number": "7"}},
            "refs/pull/7/merge",
            no_number,
        ),
        (
            "negative number",
            pr,
            {**opened, "pull_request": {"number": -7}},
            "refs/pull/7/merge",
            no_number,
        ),
        ("empty payload", pr, {}, "refs/pull/7/merge", no_number),
        (
            "nested 100,000 deep",
            pr,
            "[" * 100_000 + "]" * 100_000,
            "refs/pull/7/merge",
            "nested too deeply to be a GitHub event",
        ),
        ("push of a unicode branch to a preview", "push", {}, "refs/heads/fix/ünïcødé✓", no_pr),
        (
            "push of a branch with slashes to a preview",
            "push",
            {},
            "refs/heads/feature/a/b/c",
            no_pr,
        ),
    ]


def entrypoint(
    app: App,
    environ: dict[str, str],
    *,
    event_name: str = "push",
    event: dict[str, Any] | str | None = None,
    ref: str = "refs/heads/main",
) -> subprocess.CompletedProcess[str]:
    """The action's entrypoint as the runner starts it: GitHub mode, INPUT_* variables, an
    event file, OIDC available."""
    folder = app.root.parent / f"{app.root.name}-job"
    (folder / "home").mkdir(parents=True, exist_ok=True)
    (folder / "temp").mkdir(exist_ok=True)
    for name in ("event.json", "github-output", "github-summary", "github-env", "github-path"):
        (folder / name).touch()
    (folder / "event.json").write_text(event if isinstance(event, str) else json.dumps(event or {}))
    paths = StepPaths(
        workspace=str(app.root),
        event=str(folder / "event.json"),
        home=str(folder / "home"),
        temp=str(folder / "temp"),
        output=str(folder / "github-output"),
        summary=str(folder / "github-summary"),
        env=str(folder / "github-env"),
        path=str(folder / "github-path"),
    )
    oidc = app.emulator["oidc"]
    job = job_environment(
        Event(event_name, {}, ref=ref), paths, oidc=(oidc["request_url"], oidc["request_token"])
    )
    variables = {
        **without_job_variables(dict(os.environ)),
        **job,
        "AZUREML_EMULATOR_DIR": str(app.emulator.state_dir),
        "INPUT_CONFIG": "server/deploy.yml",
        "INPUT_CLOUD": "local",
        "INPUT_CLIENT-ID": app.emulator["client_id"],
        "INPUT_TENANT-ID": app.emulator["tenant_id"],
        **environ,
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=app.root,
        env=variables,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    app.record(f"entrypoint {environ.get('INPUT_COMMAND', '')}", result.stdout, result.stderr)
    return result


# --- 5. least privilege ------------------------------------------------------------------------


def production_from_a_pull_request(app: App) -> Outcome:
    tally = Tally()
    since = app.emulator.last_request()
    result = entrypoint(
        app,
        {"INPUT_COMMAND": "deploy", "INPUT_ENVIRONMENT": "production"},
        event_name="pull_request",
        event={"action": "opened", "pull_request": {"number": 3}},
        ref="refs/pull/3/merge",
    )
    tally.check(
        "production from a pull request",
        result,
        _no_calls(app.emulator, since),
        codes=(1,),
        expect="allow_pull_requests: true",
    )
    return tally.outcome(
        "least privilege",
        "a production deploy from a pull_request event",
        "refused (exit 1) before any call, saying how to allow it",
    )


def delete_spares_production(new_app: AppFactory) -> Outcome:
    app = new_app()
    app.outputs()
    attempts = {
        "delete": app.run("delete"),
        "delete --environment production": app.run("delete", *PRODUCTION),
        "delete (pull_request closed, from the action)": entrypoint(
            app,
            {"INPUT_COMMAND": "delete", "INPUT_ENVIRONMENT": "production"},
            event_name="pull_request",
            event={"action": "closed", "pull_request": {"number": 3}},
            ref="refs/pull/3/merge",
        ),
    }
    still_there = app.endpoint("models") is not None and _traffic(app) == {"blue": 100}
    refused = all(r.returncode in (1, 2) for r in attempts.values())
    return Outcome(
        "least privilege",
        "delete aimed at a production endpoint",
        "refused every time; the endpoint keeps serving",
        refused and still_there,
        {
            "attempts": len(attempts),
            "refused": sum(r.returncode in (1, 2) for r in attempts.values()),
        },
        detail="\n".join(
            f"{k}: exit {r.returncode}: {r.stderr[-300:]}" for k, r in attempts.items()
        ),
    )


def docker_credentials(app: App, home: Path) -> Outcome:
    """After a deploy in GitHub mode (HOME and DOCKER_CONFIG pointing at `home`), no docker
    config with credentials exists in the workspace or in HOME."""
    found = [
        str(path)
        for folder in (app.root, home)
        for path in folder.rglob("*")
        if path.is_file()
        and ".git" not in path.parts
        and (path.name == "config.json" and "auths" in path.read_text(errors="ignore"))
    ]
    return Outcome(
        "least privilege",
        "docker credentials on disk after a deploy",
        "none written to the workspace or to HOME (the push authenticates in memory)",
        not found,
        {"docker config files with credentials": len(found)},
        "\n".join(found),
    )


# --- 4. secrets --------------------------------------------------------------------------------


def deploy_in_debug_mode(app: App, tmp: Path) -> Path:
    """A full deploy in GitHub mode with RUNNER_DEBUG=1 (the Azure SDK's HTTP logs on); returns
    the HOME it ran with. Its output, summary and files are scanned like everything else."""
    app.server_deploy_file(color="debug")
    run = app.deploy_in_a_job(tmp, RUNNER_DEBUG="1")
    log = run.result.stdout + run.result.stderr
    assert run.result.returncode == 0, log[-2000:]
    assert "debug: " in log and "Request URL" in log, "the SDK's logs are on"
    return run.home
