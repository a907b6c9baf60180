"""`make reliability`: every reliability scenario with the FULL settings, against an emulator of
its own, every run scanned for secrets; writes the figures to docs/reliability.md.

Exit code 0 when every goal is met or stays within the bound its stated gap promises, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from emulator.client import Emulator
from tools import launcher
from tools.emulators import ROOT, Bundle, run_cli, start
from tools.reliability import agreement, autoscaled, crashes, hostile, judged, scenarios
from tools.reliability.scanner import Findings, scan_runs
from tools.reliability.scenarios import FAILING_CANARY_BOUND_SECONDS, FULL, Outcome, Settings
from tools.repo import App, git, make_app


@dataclass
class Area:
    """The scenarios of one area, the repositories they deployed from, and their secret scan."""

    title: str
    outcomes: list[Outcome] = field(default_factory=list)
    apps: list[App] = field(default_factory=list)
    homes: list[Path] = field(default_factory=list)
    findings: Findings | None = None
    seconds: float = 0.0


class Runner:
    def __init__(self, emulator: Emulator, workdir: Path) -> None:
        self.emulator = emulator
        self.workdir = workdir
        self.count = 0

    def new_app(self, area: Area) -> Callable[[], App]:
        def factory() -> App:
            self.emulator.reset()
            self.count += 1
            app = make_app(self.emulator, self.workdir / f"repo{self.count}")
            area.apps.append(app)
            return app

        return factory

    def area(self, title: str, run: Callable[[Area], None]) -> Area:
        area = Area(title)
        since = self.emulator.last_secret()
        started = time.monotonic()
        print(f"== {title}", flush=True)
        run(area)
        area.seconds = time.monotonic() - started
        folders = [app.root for app in area.apps] + [home for home in area.homes if home.exists()]
        area.findings = scan_runs(self.emulator, area.apps, since, folders)
        for outcome in area.outcomes:
            print(f"   {'met ' if outcome.met else 'NOT '} {outcome.name}", flush=True)
        return area


def rollouts(runner: Runner, settings: Settings, repeat: int) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        for name in scenarios.ROLLOUT_CASES:
            runs = [
                scenarios.zero_downtime_case(runner.new_app(area), settings, name)
                for _ in range(repeat)
            ]
            area.outcomes.append(_combined(runs))

    return run


def _combined(runs: list[Outcome]) -> Outcome:
    """Several runs of one rollout case as one row: requests and failures summed."""
    answered: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    for run in runs:
        answered.update(run.figures["answered_by"])
        failures.update(run.figures["failures"])
    first = runs[0]
    return Outcome(
        first.area,
        first.name,
        first.goal,
        all(run.met for run in runs),
        {
            "runs": len(runs),
            "sent": sum(run.figures["sent"] for run in runs),
            "failed": sum(run.figures["failed"] for run in runs),
            "failed_per_run": [run.figures["failed"] for run in runs],
            "answered_by": dict(answered),
            "failures": dict(failures),
            "end_state_ok": all(run.figures["end_state_ok"] for run in runs),
            "traffic_after": [run.figures["traffic_after"] for run in runs],
        },
        "\n---\n".join(run.detail for run in runs if not run.met),
    )


def judged_rollouts(runner: Runner) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        for case in judged.JUDGED_CASES:
            area.outcomes.append(judged.judged_case(runner.new_app(area), judged.FULL_JUDGED, case))
        area.outcomes.append(autoscaled.autoscale_case(runner.new_app(area)))

    return run


def agreement_rollouts(runner: Runner) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        for case in agreement.AGREEMENT_CASES:
            app = runner.new_app(area)()
            area.outcomes.append(agreement.agreement_case(app, agreement.FULL_AGREEMENT, case))

    return run


def faults(runner: Runner, settings: Settings) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        for case in scenarios.FAULT_CASES:
            area.outcomes.append(scenarios.fault_case(runner.new_app(area), case))
        area.outcomes.append(scenarios.cancelled_mid_rollout(runner.new_app(area)))
        area.outcomes.append(scenarios.two_runs_at_once(runner.new_app(area)))
        area.outcomes += crashes.cases(runner.new_app(area), settings)

    return run


def bad_input(runner: Runner, settings: Settings) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        new_app = runner.new_app(area)
        area.outcomes.append(scenarios.bad_deploy_files(new_app()))
        area.outcomes.append(scenarios.generated_deploy_files(new_app(), settings.fuzz_examples))
        area.outcomes.append(scenarios.bad_action_inputs(new_app()))
        area.outcomes.append(scenarios.bad_events(new_app()))

    return run


def least_privilege(runner: Runner) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        new_app = runner.new_app(area)
        area.outcomes.append(scenarios.production_from_a_pull_request(new_app()))
        area.outcomes.append(scenarios.delete_spares_production(new_app))
        app = new_app()
        folder = app.root.parent / f"{app.root.name}-debug"
        folder.mkdir()
        home = scenarios.deploy_in_debug_mode(app, folder)
        area.homes.append(home)
        area.outcomes.append(scenarios.docker_credentials(app, home))

    return run


def hostile_input(runner: Runner) -> Callable[[Area], None]:
    def run(area: Area) -> None:
        workdir = runner.workdir / "hostile"
        workdir.mkdir(exist_ok=True)
        area.outcomes += hostile.all_cases(workdir, runner.new_app(area))

    return run


def within_stated_bounds(outcome: Outcome, settings: Settings) -> bool:
    if outcome.met:
        return True
    if outcome.name.startswith("(f)"):
        bound = settings.rate * FAILING_CANARY_BOUND_SECONDS
        worst = max(outcome.figures["failed_per_run"])
        return bool(outcome.figures["end_state_ok"]) and worst <= bound
    return False


# --- the document ---------------------------------------------------------------------------------


def _row(cells: Iterable[object]) -> str:
    return (
        "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
    )


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    return [_row(header), _row("---" for _ in header), *(_row(row) for row in rows), ""]


def _promises(what: str, outcomes: list[Outcome], settings: Settings) -> list[str]:
    """One row per outcome: what was tried, what was promised, its figures, the verdict."""
    return _table(
        [what, "Promise", "Figures", "Goal met"],
        [
            [
                o.name,
                o.goal,
                ", ".join(f"{k}: {v}" for k, v in o.figures.items()),
                _verdict(o, settings),
            ]
            for o in outcomes
        ],
    )


def _verdict(outcome: Outcome, settings: Settings) -> str:
    if outcome.met:
        return "yes"
    return "bounded (see gaps)" if within_stated_bounds(outcome, settings) else "**no**"


def _shares(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{name} {100 * n / total:.0f} %" for name, n in sorted(counts.items()))


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {kind}" for kind, n in sorted(counts.items())) or "–"


def _traffic(traffic: dict[str, int]) -> str:
    return ", ".join(f"{name} {share} %" for name, share in traffic.items()) or "none"


def document(areas: dict[str, Area], settings: Settings, repeat: int, minutes: float) -> str:
    commit = git(ROOT, "rev-parse", "--short", "HEAD")
    today = datetime.date.today().isoformat()
    lines = [
        "# Reliability and security, measured",
        "",
        "<!-- Generated by `make reliability` (tools/reliability/report.py); do not edit. -->",
        "",
        f"The figures below come from one run of `make reliability` on {today} (commit "
        f"`{commit}`), {minutes:.0f} minutes on a 2-core machine, against the local emulator with "
        "the real `azureml-deploy` command line, the real Azure SDKs and the real Docker engine. "
        "`make test` runs the same scenarios with shorter settings and fails on any goal below "
        "that is not met.",
        "",
        "Reproduce: `make reliability` (it starts Docker and an emulator of its own, runs "
        "everything, rewrites this file, and exits 1 if a goal is missed).",
        "",
    ]
    total = [o for area in areas.values() for o in area.outcomes]
    leaks = sum(len(area.findings.leaks) for area in areas.values() if area.findings)
    lines += _table(
        ["Area", "Scenarios", "Goal met", "Minutes"],
        [
            [
                area.title,
                len(area.outcomes),
                f"{sum(o.met for o in area.outcomes)} of {len(area.outcomes)}",
                f"{area.seconds / 60:.1f}",
            ]
            for area in areas.values()
        ],
    )
    lines.append(f"{len(total)} scenarios; secrets found unmasked anywhere: **{leaks}**.")
    lines.append("")

    zero = areas["zero downtime"]
    lines += [
        "## 1. Zero-downtime rollouts",
        "",
        "**What it means for you:** while the action replaces your model, clients keep getting "
        "answers, and a new version that crashes, never becomes ready or fails the smoke test "
        "never takes traffic; the old one keeps serving.",
        "",
        f"Each case first deploys version 1, then rolls out version 2 while a load generator "
        f"scores the endpoint at {settings.rate:.0f} requests/s (from 127.0.0.1, with the "
        "endpoint key) from one second before the run until one second after it. A request "
        "failed if it got an HTTP status other than 200 or no answer. Canary steps are "
        f"[25, 50, 100] watched {settings.canary_wait} s each; blue-green moves all traffic at "
        f"once after the smoke test. Each case ran {repeat} times; the figures are the sums.",
        "",
    ]
    lines += _table(
        ["Case", "Requests sent", "Failed", "Answered by", "End state", "Goal met"],
        [
            [
                o.name,
                o.figures["sent"],
                f"{o.figures['failed']} ({_kinds(o.figures['failures'])})"
                if o.figures["failed"]
                else 0,
                _shares(o.figures["answered_by"]),
                ("as expected: " if o.figures["end_state_ok"] else "**wrong**: ")
                + _traffic(o.figures["traffic_after"][-1]),
                _verdict(o, settings),
            ]
            for o in zero.outcomes
        ],
    )

    lines += _judged(areas["judged by live traffic"], settings)
    lines += _answers(areas["judged by what it answers"], settings)

    fault = areas["faults"]
    killed = {o.name for o in fault.outcomes if "killed after each step" in o.name}
    lines += [
        "## 3. Faults",
        "",
        "**What it means for you:** a throttled, flaky or slow Azure does not fail your run; "
        "a real failure ends the run with its cause, your production deployment keeps serving, "
        "and nothing is left behind that you did not ask for.",
        "",
        "Each fault is injected through the emulator's fault API into a deploy of version 2 over "
        "a serving version 1.",
        "",
    ]
    lines += _table(
        [
            "Fault",
            "Expected",
            "Exit code",
            "Requests faulted",
            "Seconds",
            "Serving after",
            "Goal met",
        ],
        [
            [
                o.name,
                o.goal,
                o.figures.get("exit_code", o.figures.get("exit_codes")),
                o.figures.get("faulted_requests", "–"),
                o.figures.get("seconds", "–"),
                _traffic(o.figures.get("traffic_after", o.figures.get("traffic_after_cancel", {}))),
                _verdict(o, settings),
            ]
            for o in fault.outcomes
            if o.name not in killed and not o.name.startswith("a second run")
        ],
    )
    lines += [
        "**Runs killed and runs at once.** A deploy of a new version killed with SIGKILL (a "
        "runner lost) after each of its mutating calls to Azure in turn — the rollout record "
        "and the lease then stay as the dead run left them — and the same deploy run again, "
        f"while a load generator scores the endpoint at {settings.rate:.0f} requests/s "
        "throughout; and a second run started during a first run's canary watch.",
        "",
    ]
    lines += _table(
        ["Scenario", "Promise", "Figures", "Goal met"],
        [
            [
                o.name,
                o.goal,
                ", ".join(f"{k}: {v}" for k, v in o.figures.items()),
                _verdict(o, settings),
            ]
            for o in fault.outcomes
            if o.name in killed or o.name.startswith("a second run")
        ],
    )
    extras = {o.name: o.figures for o in fault.outcomes}
    cancelled = extras.get("cancelled (SIGTERM) mid-rollout, then run again", {})
    concurrent = extras.get("two runs deploying the same endpoint at once", {})
    lines += [
        f"Cancelled mid-rollout: left behind after the cancel: "
        f"{cancelled.get('left_after_cancel') or 'nothing'}; the next run exited "
        f"{cancelled.get('next_run_exit_code')} with {cancelled.get('deployments_after_next_run')}"
        " deployed. Two runs at once: exit codes "
        f"{concurrent.get('exit_codes')}, {concurrent.get('runs_that_waited')} of them waited for "
        "the other.",
        "",
    ]

    bad = areas["bad input"]
    lines += [
        "## 4. Bad input",
        "",
        "**What it means for you:** a mistake in the deploy file, the action's inputs or the "
        "triggering event ends the run at once with a message saying what to fix (at its "
        "file:line for the deploy file), exit code 1 or 2, never a traceback, and before a "
        "single call to Azure or the registry. Values that reach logs cannot inject workflow "
        "commands.",
        "",
    ]
    lines += _table(
        ["Input", "Tried", "Refused cleanly", "Still valid (planned)", "Goal met"],
        [
            [
                o.name,
                o.figures["tried"],
                o.figures["refused cleanly"],
                o.figures.get("still valid (deployed)", 0),
                _verdict(o, settings),
            ]
            for o in bad.outcomes
        ],
    )
    lines += [
        "Refused cleanly means: the expected exit code, the expected explanation, no traceback, "
        "no workflow command smuggled into the output, and zero requests to Entra ID, ARM, "
        "Azure ML, the registry or the GitHub token service in the emulator's request log. "
        "Generated files that were still valid were planned (not deployed) and count as "
        "handled.",
        "",
    ]

    lines += [
        "## 5. Secrets",
        "",
        "**What it means for you:** no endpoint key, Entra access token, registry token or "
        "GitHub token appears in your logs, step summary or files, even with debug logging on.",
        "",
        "After each area, every secret the emulator issued during it (endpoint keys, Entra "
        "access tokens, ACR refresh and access tokens, GitHub ID tokens and the job's request "
        "token) is searched for, raw and base64-, JSON- and URL-encoded, in every run's stdout "
        "and stderr, step summaries, and every file in the repositories and `$HOME` the runs "
        "used. `::add-mask::` lines are left out: they hand the secret to the runner, which "
        "never shows them. The least-privilege area includes a deploy with `RUNNER_DEBUG=1` "
        "(the Azure SDK's HTTP logging on).",
        "",
    ]
    lines += _table(
        ["Area scanned", "Secrets searched for", "Runs and files searched", "Bytes", "Unmasked"],
        [
            [
                area.title,
                area.findings.secrets,
                area.findings.places,
                area.findings.bytes,
                len(area.findings.leaks),
            ]
            for area in areas.values()
            if area.findings
        ],
    )
    lines.append("`make test` scans every end-to-end and reliability test the same way.")
    lines.append("")

    least = areas["least privilege"]
    lines += [
        "## 6. Least privilege and safety checks",
        "",
        "**What it means for you:** the action cannot be talked into deleting production, a "
        "pull request cannot deploy to production unless your deploy file says so, and no "
        "registry credential is left on the runner's disk.",
        "",
    ]
    lines += _promises("Check", least.outcomes, settings)

    hostile_area = areas["hostile input"]
    lines += [
        "",
        "## 7. Hostile input",
        "",
        "**What it means for you:** a pull request's author, a model server or an Azure error "
        "message cannot make the action hang, run out of memory, take commands from text it "
        "printed, or touch production. [security.md](security.md) has the threat model and the "
        "tests behind each mitigation (`tests/security/`, run by `make test`).",
        "",
        "The same attacks as the attacker suite, measured: the YAML files through `validate` "
        "(a new process each, start-up included), the event through `plan`, the smoke-test "
        "answers from a hostile HTTP server on 127.0.0.1 against the action's smoke test, the "
        "model server and the pull requests as full runs in GitHub mode, read with the runner's "
        "rules.",
        "",
    ]
    lines += _promises("Attack", hostile_area.outcomes, settings)

    lines += GAPS
    return "\n".join(lines).rstrip() + "\n"


def _judged(area: Area, settings: Settings) -> list[str]:
    others = [o for o in area.outcomes if "first_step_requests" not in o.figures]
    return _judged_canaries(area, settings) + _promises("Autoscale", others, settings)


def _judged_canaries(area: Area, settings: Settings) -> list[str]:
    """Section 2's text and its table of the judged canaries, (g)-(k)."""
    full = judged.FULL_JUDGED
    lines = [
        "## 2. Rollouts judged by live traffic",
        "",
        "**What it means for you:** a new version that passes the smoke test but fails some of "
        "your clients' requests, or answers slower than the one it replaces, is rolled back by "
        "`rollout.analysis` at the first canary step, or stopped in a shadow stage before any "
        "client sees it; autoscale follows the deployment that serves.",
        "",
        f"Version 2 fails one client input in five (20 % of requests: the load generator sends "
        f"an input the smoke request lacks every fifth request, at {full.rate:.0f} requests/s "
        f"from one second before the run until one second after it). Canary steps are "
        f"[{full.first_step}, 50, 100] watched {full.step_wait} s each; the analysis reads "
        f"windows of `interval_seconds: {full.interval}` 2 s after they end "
        "(`min_requests: 4, max_error_rate: 1`) from the emulator's Azure Monitor, which keeps "
        "one value a minute, as Azure does, and in its `fast` profile runs a minute in a "
        f"second: each window is {full.interval} whole such minutes, the first starting with "
        "the step's first whole minute. The shadow stage mirrors 50 % for "
        f"{full.step_wait} s. These re-measure case (f)'s failure, a canary that fails real "
        "clients, with the analysis; each ran once. The first step counts the requests sent "
        "from the move of traffic to it until the next move (or the rollback). A stage that "
        "ends with too few requests to judge is inconclusive and, by default, rolled back "
        "(`on_inconclusive`); these cases ran with the emulator's default answer to what Azure "
        "does not document, mirrored requests counted on the shadow deployment — "
        "tests/e2e/test_inconclusive.py runs the other answer, and `rollout.analysis.load` on "
        "an endpoint no client calls.",
        "",
        f"**At Azure's times** a minute is 60 s and a minute fills in minutes late "
        "(`metrics_delay_seconds` 180 by default): the same settings make each window one whole "
        "minute, starting up to a minute after the step does and read three minutes after it "
        "ends, so case (h)'s first step is rolled back 4 to 5 minutes after it takes traffic, "
        f"not seconds. At {full.rate:.0f} requests/s with {full.first_step} % of them failing "
        f"one in five, that is {full.rate * full.first_step / 500:.2f} failed requests a second, "
        f"about {full.rate * full.first_step / 500 * 240:.0f} to "
        f"{full.rate * full.first_step / 500 * 300:.0f} in place of the few below; case (i)'s "
        "shadow stage fails no client at either speed, and (j) and (k) take minutes a stage "
        "with the same verdicts.",
        "",
    ]
    rows = []
    for o in area.outcomes:
        if "first_step_requests" not in o.figures:
            continue
        f = o.figures
        share = (
            100 * f["first_step_failed"] / f["first_step_requests"]
            if f["first_step_requests"]
            else 0
        )
        rows.append(
            _rollout_row(
                o,
                settings,
                f"{f['first_step_failed']} of {f['first_step_requests']} ({share:.1f} %)"
                if f["first_step_requests"]
                else "–",
                f"{f['windows']} ({f['verdict']})",
            )
        )
    return lines + _rollout_table(["Failed in the first step", "Analysis windows"], rows)


def _rollout_row(outcome: Outcome, settings: Settings, *middle: object) -> list[object]:
    """A rollout under load: what was sent and failed, `middle`, how it ended, the verdict."""
    f = outcome.figures
    return [
        outcome.name,
        f["sent"],
        f"{f['failed']} ({_kinds(f['failures'])})" if f["failed"] else 0,
        *middle,
        ("as expected: " if f["end_state_ok"] else "**wrong**: ") + _traffic(f["traffic_after"]),
        _verdict(outcome, settings),
    ]


def _rollout_table(middle: list[str], rows: list[list[object]]) -> list[str]:
    return _table(["Case", "Requests sent", "Failed", *middle, "End state", "Goal met"], rows)


ANSWERS_HEADING = "### Judged by what it answers: agreement"


def _answers(area: Area, settings: Settings) -> list[str]:
    """Section 2's cases (m)-(o): a canary wrong for 5 % of its inputs, with and without
    rollout.agreement, and a retrained model within the tolerance."""
    full = agreement.FULL_AGREEMENT
    lines = [
        ANSWERS_HEADING,
        "",
        "**What it means for you:** a new version that answers fast and with HTTP 200, but "
        "wrongly, passes the smoke test and every `rollout.analysis` window, and its wrong "
        "answers reach your clients; `rollout.agreement` compares its answers with the "
        "known-good's before it takes any traffic and stops it before a client gets one, while "
        "a version whose answers stay within your tolerance goes live.",
        "",
        'Version 1 is a classifier: it answers `{"x": n}` with n\'s parity (`{"label": '
        '"even" | "odd", "score": n / 100}`, the test model server\'s `PREDICT` mode). '
        "Version 2 of (m) and (n) gives the wrong label for every x divisible by 20 (5 % of "
        "inputs), as fast as version 1 and with HTTP 200; version 2 of (o) is retrained: every "
        f"score {agreement.DRIFTED.split('=')[1]} higher, every label right. The load generator "
        f"sends x = 0 … {agreement.CLIENT_INPUTS - 1} in turn at {full.rate:.0f} requests/s "
        "(from 127.0.0.1, with the endpoint key) from one second before the run until "
        f"{agreement.AFTER_SECONDS:.0f} seconds after it, and checks each answer's label against "
        "the parity rule: a wrong answer is a 200 whose label is wrong, which no HTTP status "
        f"shows. Canary steps are {full.canary_steps} watched {full.step_wait} s each, judged by "
        f"`rollout.analysis` (windows of `interval_seconds: {full.interval}`, `min_requests: 4, "
        "max_error_rate: 1`, as in (g)-(k)). `rollout.agreement` sends a request set of "
        f"{agreement.REQUESTS} files (x = 0 … {agreement.REQUESTS - 1}, two of which version 2 "
        "of (m) and (n) gets wrong) to the known-good and to the new deployment through the "
        "`azureml-model-deployment` header, one at a time, the known-good's first, before the "
        "new deployment takes traffic and after each canary step: in (n) with `compare: "
        "{pointer: /label}, min_agreement: 0.98`, in (o) with `compare: {tolerance: {absolute: "
        "0.001}}` (every answer must agree). Agreement time is how long the checks took, out of "
        "the whole run's; each case ran once.",
        "",
    ]
    rows = []
    for o in area.outcomes:
        f = o.figures
        new = f["answered_by"].get(f["candidate"], 0)
        wrong = f"{f['wrong']} of version 2's {new} answers ({100 * f['wrong'] / (new or 1):.1f} %)"
        checks = "; ".join(
            f"{stage}: {agreed} of {compared} ({verdict})"
            for stage, agreed, compared, verdict in f["checks"]
        )
        rows.append(
            _rollout_row(
                o,
                settings,
                wrong if f["wrong"] else 0,
                f"{f['windows']} ({f['analysis_verdict']})",
                checks or "not configured",
                f"{f['agreement_seconds']} s of {f['deploy_seconds']} s" if f["checks"] else "–",
            )
        )
    middle = ["Wrong answers served", "Analysis windows", "Agreement", "Agreement time"]
    return lines + _rollout_table(middle, rows) + _agreement_cost(area)


def _agreement_cost(area: Area) -> list[str]:
    """What a check costs, and what agreement cannot see."""
    checks = sum(len(o.figures["checks"]) for o in area.outcomes)
    seconds = sum(o.figures["agreement_seconds"] for o in area.outcomes)
    per_check = seconds / (checks or 1)
    return [
        f"A check sends {2 * agreement.REQUESTS} requests one after the other: here "
        f"{per_check:.1f} s a check on average ({1000 * per_check / (2 * agreement.REQUESTS):.0f}"
        " ms a request, both deployments serving the clients' load meanwhile), added to the "
        "rollout before traffic moves and after each canary step. Agreement sees only the "
        "request set: a model wrong on inputs the set lacks passes it, as (m) passes every "
        "HTTP gate; here 2 of its 40 requests are inputs version 2 gets wrong.",
        "",
    ]


GAPS = [
    "## Gaps, stated honestly",
    "",
    "- **A canary that starts failing half-way (case f) loses some requests.** Its traffic share "
    "goes to an instance that no longer answers until the deployer notices (it checks the "
    "canary every second) and puts all traffic back on the old deployment. The failures are "
    "bounded by the detection time, not zero; `make test` asserts at most "
    f"{FAILING_CANARY_BOUND_SECONDS} seconds' worth of requests per run. Azure ML's own traffic "
    "split has the same property. With `rollout.analysis` the bound is the first canary "
    "step's share of the requests until a window is read (section 2, case h); a shadow stage "
    "takes it to zero (case i).",
    "- **Cancelled while Azure creates the new deployment:** Azure refuses to delete a "
    "deployment that is still being created, so the cancelled run leaves it (with 0 % traffic, "
    "named in the log); the next run takes the rollout from there.",
    "- **An instance type the deployer does not know** is only a warning (Azure adds types "
    "faster than any list), so a misspelt one is refused by Azure after the image was built and "
    "pushed, with Azure's message.",
    "- **The very first deploy of an endpoint that fails** leaves the empty endpoint (no "
    "deployment, no traffic, no cost for compute) so the next run does not wait for it to be "
    "created again; `azureml-deploy delete` removes it.",
    "",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each rollout case")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--only-judged",
        action="store_true",
        help="run only the judged canaries (g)-(k) and rewrite just their table and text",
    )
    parser.add_argument(
        "--only-agreement",
        action="store_true",
        help="run only the canaries judged by what they answer (m)-(o) and rewrite just "
        "their table and text",
    )
    options = parser.parse_args(argv)
    if options.only_judged:
        return only_judged(options.output, options.keep)
    if options.only_agreement:
        return only_agreement(options.output, options.keep)
    launcher.start_cold()  # the figures are what a user waits for, import time included
    settings = FULL
    workdir = Path(tempfile.mkdtemp(prefix="azureml-deploy-reliability-"))
    started = time.monotonic()
    bundle = Bundle(workdir / "ca-bundle.pem")
    emulator = start(workdir / "emulator", "--profile", "fast")
    try:
        bundle.trust(emulator)
        runner = Runner(emulator, workdir)
        areas = {
            "zero downtime": runner.area(
                "zero downtime", rollouts(runner, settings, options.repeat)
            ),
            "judged by live traffic": runner.area(
                "judged by live traffic", judged_rollouts(runner)
            ),
            "judged by what it answers": runner.area(
                "judged by what it answers", agreement_rollouts(runner)
            ),
            "faults": runner.area("faults", faults(runner, settings)),
            "bad input": runner.area("bad input", bad_input(runner, settings)),
            "least privilege": runner.area("least privilege", least_privilege(runner)),
            "hostile input": runner.area("hostile input", hostile_input(runner)),
        }
    finally:
        run_cli("down", state_dir=workdir / "emulator")
    minutes = (time.monotonic() - started) / 60
    options.output.write_text(document(areas, settings, options.repeat, minutes))
    print(f"wrote {options.output.relative_to(ROOT)} ({minutes:.1f} min)")
    missed = [
        o for area in areas.values() for o in area.outcomes if not within_stated_bounds(o, settings)
    ]
    leaks = [leak for area in areas.values() if area.findings for leak in area.findings.leaks]
    for outcome in missed:
        print(f"goal missed: {outcome.area}: {outcome.name}\n{outcome.detail}", file=sys.stderr)
    for leak in leaks:
        print(f"secret leaked: {leak}", file=sys.stderr)
    if not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if missed or leaks else 0


def only_judged(output: Path, keep: bool) -> int:
    """Cases (g)-(k) alone, spliced into the document in place of their table and text; the
    rest of it (autoscale's case (l) too) stays as the last full run wrote it."""

    def run(runner: Runner) -> Callable[[Area], None]:
        def cases(area: Area) -> None:
            for case in judged.JUDGED_CASES:
                outcome = judged.judged_case(runner.new_app(area), judged.FULL_JUDGED, case)
                area.outcomes.append(outcome)

        return cases

    def splice(text: str, area: Area, note: str) -> str:
        fresh = "\n".join([*_judged_canaries(area, FULL), note]).rstrip() + "\n\n"
        begin = text.index("## 2. Rollouts judged by live traffic")
        end = text.index("| Autoscale |", begin)
        return text[:begin] + fresh + text[end:]

    cases = ("judged by live traffic", "(g)-(k) were measured again", "judged")
    return _remeasure(output, keep, cases, run, splice)


def only_agreement(output: Path, keep: bool) -> int:
    """Cases (m)-(o) alone, spliced into section 2 in place of their text and table (after
    autoscale's case (l) when there are none yet); the rest stays as it was."""

    def splice(text: str, area: Area, note: str) -> str:
        return splice_answers(text, "\n".join([*_answers(area, FULL), note]))

    cases = ("judged by what it answers", "(m)-(o) were measured", "agreement")
    return _remeasure(output, keep, cases, agreement_rollouts, splice)


def splice_answers(text: str, section: str) -> str:
    """`text` with `section` in place of cases (m)-(o), or at the end of section 2."""
    end = text.index("## 3. Faults")
    begin = text.find(ANSWERS_HEADING, 0, end)
    return text[: end if begin < 0 else begin] + section.rstrip() + "\n\n" + text[end:]


def _remeasure(
    output: Path,
    keep: bool,
    cases: tuple[str, str, str],
    run: Callable[[Runner], Callable[[Area], None]],
    splice: Callable[[str, Area, str], str],
) -> int:
    """Some cases alone against an emulator of their own, spliced into the document, with a
    line saying when and at which commit they were measured. `cases`: their area's title,
    their names with how they were measured, and the --only-… flag that measures them."""
    title, names, flag = cases
    workdir = Path(tempfile.mkdtemp(prefix="azureml-deploy-reliability-"))
    bundle = Bundle(workdir / "ca-bundle.pem")
    emulator = start(workdir / "emulator", "--profile", "fast")
    try:
        bundle.trust(emulator)
        runner = Runner(emulator, workdir)
        area = runner.area(title, run(runner))
    finally:
        run_cli("down", state_dir=workdir / "emulator")
    commit = git(ROOT, "rev-parse", "--short", "HEAD")
    note = (
        f"Cases {names} on {datetime.date.today().isoformat()} (commit "
        f"`{commit}`) with `python -m tools.reliability.report --only-{flag}`, after the "
        "rest of this page, on a 2-core machine whose load average over the last 5 minutes of "
        f"the run was {os.getloadavg()[1]:.1f} (2 keeps both cores busy)."
    )
    output.write_text(splice(output.read_text("utf-8"), area, note), "utf-8")
    print(f"rewrote cases {names.split()[0]} of {output.relative_to(ROOT)}")
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    missed = [o for o in area.outcomes if not within_stated_bounds(o, FULL)]
    for outcome in missed:
        print(f"goal missed: {outcome.name}\n{outcome.detail}", file=sys.stderr)
    leaks = area.findings.leaks if area.findings else []
    for leak in leaks:
        print(f"secret leaked: {leak}", file=sys.stderr)
    return 1 if missed or leaks else 0


if __name__ == "__main__":
    sys.exit(main())
