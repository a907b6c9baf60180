"""What a deploy hands back: step outputs (keys masked first) and the job summary (never a key)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deployer import markdown as md
from deployer.agreement import Agreement
from deployer.agreement_report import agreement_json, agreement_markdown
from deployer.analysis import Analysis, StageResult, Verdict, Window
from deployer.assets.deployed import asset_outputs, parse_deployed, what_runs
from deployer.github.runner import Runner
from deployer.plan import Plan
from deployer.scorecard import Scorecard
from deployer.scorecard_report import scorecard_json, scorecard_markdown
from deployer.smoke import SmokeResult
from deployer.state import EndpointState, Keys, traffic_text
from deployer.timing import Phases

OUTPUT_NAMES = (
    "endpoint-name",
    "deployment-name",
    "scoring-uri",
    "environment-url",
    "swagger-uri",
    "primary-key",
    "secondary-key",
    "image",
    "digest",
    "image-tag",
    "model",
    "code",
    "environment",
    "traffic",
    "previous-deployment",
    "plan",
    "analysis",
    "agreement",
    "scorecard",
)
SECRET_OUTPUTS = ("primary-key", "secondary-key")


def dump_json(value: object) -> str:
    """A step output's JSON (compact, keys sorted, so equal values read alike)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class DeployReport:
    endpoint: EndpointState
    deployment: str | None
    previous: str | None
    image: str
    keys: Keys | None
    plan: Plan
    smoke: SmokeResult | None
    studio_url: str
    outcome: str  # deployed | unchanged
    image_tag: str = ""  # the tag the image was built or found under; "" for a digest given
    image_work: str = ""  # steps built and cached, layers pushed: "" when nothing was built
    analysis: Analysis | None = None  # rollout.analysis: its stages and windows
    agreement: Agreement | None = None  # rollout.agreement: its checks
    scorecard: Scorecard | None = None  # a preview's, against its baseline's recorded answers

    def outputs(self) -> dict[str, str]:
        assets = parse_deployed(self.image)
        image = self.image if assets is None else assets.image or ""
        return {
            "endpoint-name": self.endpoint.name,
            "deployment-name": self.deployment or "",
            "scoring-uri": self.endpoint.scoring_uri or "",
            "environment-url": self.studio_url,
            "swagger-uri": self.endpoint.swagger_uri or "",
            # a token that expires is no key: a later step gets its own (README, "Outputs")
            "primary-key": self.keys.primary if self.keys and not self.keys.expires else "",
            "secondary-key": (self.keys.secondary or "") if self.keys else "",
            "image": image,
            "digest": image.partition("@")[2],
            **asset_outputs(self.image),
            "image-tag": self.image_tag,
            "traffic": dump_json(dict(self.endpoint.traffic)),
            "previous-deployment": self.previous or "",
            "plan": dump_json(self.plan.as_dict()),
            "analysis": analysis_json(self.analysis),
            "agreement": agreement_json(self.agreement),
            "scorecard": scorecard_json(self.scorecard),
        }


def analysis_json(analysis: Analysis | None) -> str:
    """The `analysis` output: the overall verdict, every stage's and every window."""
    if analysis is None:
        return dump_json({"verdict": "not configured", "stages": [], "windows": []})
    verdict = analysis.verdict()
    return dump_json(
        {
            "verdict": "not judged" if verdict is None else str(verdict),
            "stages": [stage.as_dict() for stage in analysis.stages],
            "windows": [window.as_dict() for window in analysis.windows],
        }
    )


_MARKS = {
    Verdict.PASSED: "✅",
    Verdict.FAILED: "❌",
    Verdict.TOO_FEW: "…",
    Verdict.INCONCLUSIVE: "⚠️",
}


def analysis_markdown(analysis: Analysis | None) -> str:
    """Every stage's verdict, then every analysis window: requests, error rate and p99 of the
    candidate and the known-good deployment, and the verdict."""
    if analysis is None or not (analysis.windows or analysis.stages):
        return ""
    return _stages_markdown(analysis.stages) + _windows_markdown(analysis.windows)


def _stages_markdown(stages: Sequence[StageResult]) -> str:
    lines = [
        "#### Analysis verdicts",
        "",
        "| Stage | Deployment | Requests | Verdict |",
        "| --- | --- | ---: | --- |",
    ]
    for stage in stages:
        said = f"{_MARKS[stage.verdict]} {stage.verdict}"
        if stage.verdict is Verdict.INCONCLUSIVE:
            meant = "rolled back" if stage.failed else "**NOT JUDGED: the rollout went on**"
            said = f"**{said.upper()}** (on_inconclusive: {stage.on_inconclusive}): {meant}"
        lines.append(
            f"| {md.text(stage.stage)} | {md.code(stage.deployment)} | {stage.requests} | {said} |"
        )
    return "\n".join(lines) + "\n\n" if stages else ""


def _windows_markdown(windows: Sequence[Window]) -> str:
    if not windows:
        return ""
    lines = [
        "#### Analysis",
        "",
        "| Stage | Window (UTC) | Deployment | Requests | Errors | p99 | Verdict |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for window in windows:
        span = f"{window.start:%H:%M:%S}–{window.end:%H:%M:%S}"
        verdict = f"{_MARKS[window.verdict]} {window.verdict}"
        if window.reasons:
            verdict += ": " + "; ".join(window.reasons)
        rows = [(window.candidate, window.served, md.text(verdict))]
        if window.baseline is not None and window.baseline_served is not None:
            rows.append((window.baseline, window.baseline_served, "known-good"))
        for name, served, said in rows:
            p99 = f"{served.p99_ms:.0f} ms" if served.p99_ms is not None else "–"
            lines.append(
                f"| {md.text(window.stage)} | {span} | {md.code(name)} | {served.requests} | "
                f"{served.error_rate:.1f}% | {p99} | {said} |"
            )
    return "\n".join(lines) + "\n\n"


def publish(runner: Runner, outputs: Mapping[str, str], output_json: Path | None) -> None:
    """Mask the secrets, then write the outputs (GITHUB_OUTPUT, and --output-json if asked)."""
    for name in SECRET_OUTPUTS:
        runner.mask(outputs.get(name))
    runner.set_outputs(outputs)
    if output_json is not None:
        output_json.write_text(json.dumps(dict(outputs), indent=2) + "\n", "utf-8")


def timing_text(phases: Phases) -> str:
    parts = [f"{name} {seconds:.1f} s" for name, seconds in phases.by_name()]
    return " · ".join([*parts, f"total {phases.total():.1f} s"])


def summary_markdown(report: DeployReport, phases: Phases, environment: str | None) -> str:
    """The job summary of a deploy. Every value that comes from Azure, the model server or
    the deploy file is escaped (markdown.py)."""
    title = {
        "deployed": "✅ deployed",
        "unchanged": "✅ already up to date",
        "rolled back": "↩️ rolled back",
        "promoted": "✅ promoted",
        "aborted": "⏹️ rollout aborted",
    }.get(report.outcome, md.text(report.outcome))
    deployment = md.code(report.deployment or "")
    if report.previous and report.previous != report.deployment:
        deployment += f" (previous: {md.code(report.previous)})"
    rows = [
        (
            "Endpoint",
            f"{md.code(report.endpoint.name)} ([Azure ML studio](<{_url(report.studio_url)}>))",
        ),
        ("Environment", md.code(environment) if environment else "base"),
        ("Scoring URI", md.code(report.endpoint.scoring_uri or "")),
        ("Deployment", deployment),
        *[(label, md.code(value)) for label, value in what_runs(report.image)],
        *([(_work_label(report.image), md.text(report.image_work))] if report.image_work else []),
        (
            "Traffic",
            md.text(
                f"{traffic_text(report.plan.traffic_before)} → "
                f"{traffic_text(report.endpoint.traffic)}"
            ),
        ),
        ("Smoke test", md.text(report.smoke.describe()) if report.smoke else "not run"),
        ("Strategy", md.text(str(report.plan.strategy))),
    ]
    record = report.endpoint.record
    if record.kept:
        until = f" until {record.kept_until:%Y-%m-%d %H:%M} UTC" if record.kept_until else ""
        rows.append(
            (
                "Rollback",
                f"{md.code(record.kept)} is kept at 0%{until}: run the action with "
                "`command: rollback` to send all traffic back to it",
            )
        )
    if record.candidate:
        rows.append(
            (
                "Unfinished",
                f"the rollout of {md.code(record.candidate)} did not finish: `command: promote` "
                "continues it, `command: abort` stops it",
            )
        )
    if report.plan.left_alone:
        rows.append(("Left alone", md.code(", ".join(report.plan.left_alone))))
    lines = [f"### azureml-deploy: {title}", "", "| | |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    lines += ["", f"**Timing:** {md.text(timing_text(phases))}", ""]
    return (
        "\n".join(lines)
        + "\n"
        + analysis_markdown(report.analysis)
        + agreement_markdown(report.agreement)
        + scorecard_markdown(report.scorecard)
    )


def _work_label(reference: str) -> str:
    return "Registered" if parse_deployed(reference) else "Image build"


def _url(url: str) -> str:
    """A link destination of ours (the studio URL), kept inside its angle brackets."""
    return url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20").replace("\n", "")


def failure_markdown(endpoint: str, message: str, hint: str | None) -> str:
    """The job summary of a failed run: the message (often Azure's words, or a model's
    response) verbatim in a code block."""
    lines = [f"### azureml-deploy: ❌ {md.code(endpoint)} failed", "", md.block(message)]
    if hint:
        lines += ["", f"**Fix:** {md.text(hint, limit=md.MAX_BLOCK)}"]
    return "\n".join(lines) + "\n\n"


def console_summary(report: DeployReport, phases: Phases) -> str:
    lines = [
        f"endpoint      {report.endpoint.name}",
        f"scoring uri   {report.endpoint.scoring_uri}",
        f"deployment    {report.deployment}"
        + (
            f" (previous: {report.previous})"
            if report.previous and report.previous != report.deployment
            else ""
        ),
        *_console_runs(report),
        *(
            [f"{_work_label(report.image).lower():<14}{report.image_work}"]
            if report.image_work
            else []
        ),
        f"traffic       {traffic_text(report.plan.traffic_before)} → "
        f"{traffic_text(report.endpoint.traffic)}",
        f"smoke test    {report.smoke.describe() if report.smoke else 'not run'}",
        f"timing        {timing_text(phases)}",
    ]
    return "\n".join(lines)


def _console_runs(report: DeployReport) -> list[str]:
    rows = what_runs(report.image)
    lines = [f"{label.lower():<14}{value}" for label, value in rows]
    if report.image_tag and rows[0][0] == "Image":
        lines[0] += f" (tag {report.image_tag})"
    return lines


def plan_table(plan: Plan) -> str:
    alone = [
        f"  left alone: deployment {name} (not created by azureml-deploy)"
        for name in plan.left_alone
    ]
    alone += [f"  refused: {reason}" for reason in plan.refused]
    if plan.is_noop:
        return "\n".join(
            [
                f"plan for {plan.endpoint}: nothing to do — {plan.target} already runs what "
                "this run would deploy (its image, or its model, code and environment), with "
                "these settings, at 100% traffic",
                *alone,
            ]
        )
    lines = [f"plan for {plan.endpoint} ({plan.strategy}):"]
    lines += [f"  {index}. {step.describe()}" for index, step in enumerate(plan.steps, 1)]
    return "\n".join([*lines, *alone])


def cleanup_markdown(
    rows: Sequence[tuple[str, str, str]], dry_run: bool, retired: Sequence[str] = ()
) -> str:
    verb = "would delete" if dry_run else "deleted"
    lines = [f"### azureml-deploy cleanup: {len(rows)} preview endpoint(s) {verb}", ""]
    if rows:
        lines += ["| endpoint | created | age |", "| --- | --- | --- |"]
        lines += [f"| {md.code(name)} | {created} | {age} |" for name, created, age in rows]
    if retired:
        kept = ", ".join(md.code(name) for name in retired)
        lines += ["", f"Deployments kept for rollback whose time was up, {verb}: {kept}"]
    return "\n".join(lines) + "\n"
