"""A preview's scorecard as the run hands it back: the `scorecard` output (JSON), and the
markdown the pull request comment, the check run and the job summary show. The models' answers,
the request files' names and what storage held are untrusted: every cell is escaped
(markdown.py)."""

from __future__ import annotations

import json

from deployer import markdown as md
from deployer.agreement import Latency
from deployer.scorecard import Scorecard, ScoreVerdict

MAX_NEW_SHOWN = 10  # names of requests the baseline has no answer for

_MARKS = {ScoreVerdict.PASSED: "✅", ScoreVerdict.FAILED: "❌", ScoreVerdict.NO_BASELINE: "➖"}


def scorecard_json(card: Scorecard | None) -> str:
    value = {"verdict": "not configured"} if card is None else card.as_dict()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def scorecard_markdown(card: Scorecard | None) -> str:
    if card is None:
        return ""
    base = card.baseline.environment
    lines = [
        f"#### Scorecard: this pull request's model against {md.text(base)}'s",
        "",
        f"{_MARKS[card.verdict]} {md.text(card.headline())}",
        "",
    ]
    record, check = card.record, card.check
    if record is None or check is None or check.rate is None:
        return "\n".join(lines) + "\n"
    recorded = f"{md.text(record.recorded_at)}, commit {md.code(record.commit[:7])}"
    lines += [
        f"| | This preview ({md.code(card.deployment)}) | {md.text(base)} "
        f"({md.code(record.deployment)}, recorded {recorded}) |",
        "| --- | --- | --- |",
        f"| p50 latency | {_ms(check.candidate_latency.p50_ms)} | "
        f"{_ms(check.known_good_latency.p50_ms)} |",
        f"| p99 latency | {_ms(check.candidate_latency.p99_ms)} | "
        f"{_ms(check.known_good_latency.p99_ms)} |",
        f"| No 2xx JSON answer | {_failures(check.candidate_latency)} | "
        f"{_failures(check.known_good_latency)} |",
        "",
        f"Judged by {md.text(base)}'s recorded rule: {md.text(record.judging.describe())}."
        + (
            " This pull request changes rollout.agreement's rule; its own is not used."
            if card.own_rule_differs
            else ""
        ),
    ]
    if card.new_requests:
        shown = ", ".join(md.code(name) for name in card.new_requests[:MAX_NEW_SHOWN])
        more = len(card.new_requests) - MAX_NEW_SHOWN
        lines.append(
            f"{len(card.new_requests)} requests have no answer recorded by {md.text(base)} "
            f"(new or changed in this pull request), not compared: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if check.examples:
        lines += [
            "",
            f"First disagreements ({len(check.examples)}):",
            "",
            f"| Request | Why | {md.text(base)} answered | This preview answered |",
            "| --- | --- | --- | --- |",
            *(
                f"| {md.text(example.request)} | {md.text(example.reason)} | "
                f"{md.text(example.known_good)} | {md.text(example.candidate)} |"
                for example in check.examples
            ),
        ]
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _failures(latency: Latency) -> str:
    return str(latency.failures)
