"""rollout.agreement as the run hands it back: the `agreement` output (JSON) and the job
summary's tables. The models' answers and the request files' names are untrusted: every cell
is escaped (markdown.py), so no answer can close a table, open a link or run as HTML."""

from __future__ import annotations

import json
from collections.abc import Sequence

from deployer import markdown as md
from deployer.agreement import Agreement, AgreementVerdict, Check, Latency

_MARKS = {
    AgreementVerdict.PASSED: "✅",
    AgreementVerdict.FAILED: "❌",
    AgreementVerdict.NOT_JUDGED: "➖",
}


def agreement_json(agreement: Agreement | None) -> str:
    """The `agreement` output: the rollout's verdict and every check, with its disagreements."""
    if agreement is None:
        value: dict[str, object] = {"verdict": "not configured", "checks": []}
    else:
        value = {
            "verdict": agreement.verdict(),
            "checks": [check.as_dict() for check in agreement.checks],
        }
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def agreement_markdown(agreement: Agreement | None) -> str:
    if agreement is None or not agreement.checks:
        return ""
    lines = [
        "#### Agreement",
        "",
        "| Stage | Deployment | Known-good | Agree | Deployment latency | Known-good latency "
        "| Verdict |",
        "| --- | --- | --- | ---: | --- | --- | --- |",
    ]
    for check in agreement.checks:
        lines.append(
            f"| {md.text(check.stage)} | {md.code(check.candidate)} | "
            f"{md.code(check.known_good) if check.known_good else '–'} | {_share(check)} | "
            f"{_latency(check.candidate_latency)} | {_latency(check.known_good_latency)} | "
            f"{_MARKS[check.verdict]} {md.text(_verdict(check))} |"
        )
    return "\n".join(lines) + "\n\n" + _examples(agreement.checks)


def _share(check: Check) -> str:
    if check.rate is None:
        return "–"
    return f"{check.agreed}/{check.compared} ({check.rate:.1%}, min {check.min_agreement:.1%})"


def _latency(latency: Latency) -> str:
    if latency.p50_ms is None or latency.p99_ms is None:
        return "–"
    failed = f", {latency.failures} unanswered" if latency.failures else ""
    return f"p50 {latency.p50_ms:.0f} ms · p99 {latency.p99_ms:.0f} ms{failed}"


def _verdict(check: Check) -> str:
    said = str(check.verdict)
    if check.why:
        said += f": {check.why}"
    if check.skipped:
        said += f" ({check.skipped} not compared: the known-good gave no answer to compare)"
    return said


def _examples(checks: Sequence[Check]) -> str:
    shown = [check for check in checks if check.examples]
    if not shown:
        return ""
    lines = []
    for check in shown:
        lines += [
            f"##### Disagreeing answers: {md.text(check.stage)} (the first {len(check.examples)})",
            "",
            "| Request | Why | Known-good answered | Deployment answered |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {md.text(example.request)} | {md.text(example.reason)} | "
            f"{md.text(example.known_good)} | {md.text(example.candidate)} |"
            for example in check.examples
        ]
        lines.append("")
    return "\n".join(lines) + "\n"
