"""A preview's scorecard: production's answers as its deploy records them (what storage gives
back is checked, not trusted), the preview's answers judged by production's recorded rule, and
the scorecard as a reviewer reads it, the models' text kept text."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from deployer import markdown as md
from deployer.agreement import Answer, Request
from deployer.answers import (
    MAX_ANSWER_BYTES,
    AnswerRecord,
    JudgingRule,
    UnreadableRecord,
    parse_record,
    recorded,
    request_key,
    serving_identity,
)
from deployer.github.checks import bounded
from deployer.scorecard import Baseline, ScoreVerdict, baseline_environment, not_scored, score
from deployer.scorecard_report import scorecard_json, scorecard_markdown
from deployer.spec.model import CompareKind, CompareRule
from deployer.tags import Record

PRODUCTION = Baseline("production", "credit-risk")
LABEL = JudgingRule(CompareRule(CompareKind.POINTER, pointer="/risk"), 0.9)
HOSTILE = "::error::pwned\n| <img src=x onerror=alert(1)> [click](https://evil.example) ```"


def requests(count: int) -> list[Request]:
    return [Request(f"{n:02}.json", json.dumps({"applicant": n}).encode()) for n in range(count)]


def answer(risk: str, latency: float = 10.0) -> Answer:
    return Answer(200, json.dumps({"risk": risk}).encode(), latency)


def risk_of(request: Request) -> str:
    return "high" if json.loads(request.body)["applicant"] % 2 else "low"


def record_of(
    sent: list[Request], judging: JudgingRule = LABEL, deployment: str = "blue"
) -> AnswerRecord:
    answers = recorded((request, answer(risk_of(request), 8.0)) for request in sent)
    return AnswerRecord(
        "credit-risk",
        deployment,
        f"{deployment}-identity",
        "2026-12-07T01:00:00Z",
        "a" * 40,
        None,
        judging,
        answers,
    )


def stored(record: AnswerRecord) -> AnswerRecord:
    """What a preview reads back: the record as bytes, through the parser."""
    return parse_record(record.to_bytes())


def test_a_record_reads_back_as_it_was_written() -> None:
    sent = requests(3)
    record = record_of(sent)
    again = stored(record)
    assert again == record
    assert again.covers("blue-identity", sent, LABEL)
    assert not again.covers("green-identity", sent, LABEL)  # something else serves now
    assert not again.covers("blue-identity", [*sent, Request("new.json", b"{}")], LABEL)
    assert not again.covers("blue-identity", sent, JudgingRule(LABEL.rule, 0.5))  # another rule


def test_what_serves_is_told_apart_by_more_than_its_deployments_name() -> None:
    blue = Record(known_good="blue", known_good_image="app@sha256:1", known_good_settings="s1")
    assert serving_identity(blue) == serving_identity(replace(blue))
    assert serving_identity(blue) != serving_identity(
        replace(blue, known_good_image="app@sha256:2")
    )
    assert serving_identity(blue) != serving_identity(replace(blue, known_good_settings="s2"))
    assert serving_identity(Record()) is None


def test_a_long_answer_is_recorded_as_too_long_not_kept() -> None:
    (request,) = requests(1)
    long = Answer(200, b'"' + b"x" * MAX_ANSWER_BYTES + b'"', 5.0)
    kept = recorded([(request, long)])[request_key(request.body)]
    assert (kept.body, kept.failure) == (b"", "longer than 16 KiB")


def _tampered(change: Any) -> bytes:
    value = json.loads(record_of(requests(2)).to_bytes())
    change(value)
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda v: v.update(format=2), "not a format-1 record"),
        (lambda v: v.pop("rule"), "lacks rule"),
        (lambda v: v["answers"].update({"../../etc": {}}), "not a request's SHA-256"),
        (lambda v: v["rule"].update(compare="regex"), "compare rule is not one"),
        (lambda v: v["rule"].update(min_agreement=float("nan")), "not a finite number"),
        (lambda v: v["rule"].update(min_agreement=-1), "not between 0 and 1"),
        (lambda v: v["rule"].update(compare="schema", schema={"type": 5}), "not a JSON Schema"),
        (lambda v: next(iter(v["answers"].values())).update(body="*"), "not base64"),
        (lambda v: next(iter(v["answers"].values())).update(status=True), "status"),
        (
            lambda v: next(iter(v["answers"].values())).update(
                body=base64.b64encode(b"x" * (MAX_ANSWER_BYTES + 1)).decode()
            ),
            "longer than 16 KiB",
        ),
    ],
)
def test_a_record_storage_gives_back_changed_is_refused_with_why(change: Any, said: str) -> None:
    with pytest.raises(UnreadableRecord, match=re.escape(said)):
        parse_record(_tampered(change))


def test_what_is_not_json_or_too_large_is_refused() -> None:
    with pytest.raises(UnreadableRecord, match="not JSON"):
        parse_record(b"\xff{")
    with pytest.raises(UnreadableRecord, match="larger than 32 MiB"):
        parse_record(b" " * (32 * 1024 * 1024 + 1))


def test_the_same_answers_pass_and_latency_is_side_by_side() -> None:
    sent = requests(10)
    card = score(
        PRODUCTION,
        "green",
        stored(record_of(sent)),
        [(r, answer(risk_of(r), 12.0)) for r in sent],
        LABEL,
    )
    assert (card.verdict, card.conclusion) == (ScoreVerdict.PASSED, "success")
    assert card.check is not None
    assert (card.check.compared, card.check.agreed) == (10, 10)
    assert (card.check.candidate_latency.p50_ms, card.check.known_good_latency.p50_ms) == (12, 8)
    assert card.headline() == (
        "10 of 10 answers agree with production's (100.0%, min_agreement 90.0%): passed"
    )


def test_a_changed_model_fails_by_productions_rule_not_the_pull_requests() -> None:
    sent = requests(10)
    flipped = [(r, answer("high" if n < 3 else risk_of(r))) for n, r in enumerate(sent)]
    loosened = JudgingRule(LABEL.rule, 0.0)  # the pull request's own deploy file
    card = score(PRODUCTION, "green", stored(record_of(sent)), flipped, loosened)
    assert (card.verdict, card.conclusion) == (ScoreVerdict.FAILED, "failure")
    assert card.check is not None and card.check.min_agreement == 0.9
    assert card.own_rule_differs
    assert [example.request for example in card.check.examples] == ["00.json", "02.json"]
    markdown = scorecard_markdown(card)
    headline = "8 of 10 answers agree with production's (80.0%, min_agreement 90.0%): failed"
    assert card.headline() == headline
    assert f"❌ {md.text(headline)}" in markdown
    assert f"recorded rule: {md.text('pointer /risk, min_agreement 90.0%')}." in markdown
    assert "its own is not used" in markdown


def test_requests_new_in_the_pull_request_are_named_not_compared() -> None:
    sent = requests(4)
    added = [*sent, Request("added.json", b'{"applicant": 99}')]
    card = score(
        PRODUCTION,
        "green",
        stored(record_of(sent)),
        [(r, answer(risk_of(r))) for r in added],
        LABEL,
    )
    assert card.verdict is ScoreVerdict.PASSED
    assert card.new_requests == ("added.json",)
    assert "1 requests have no answer recorded by production" in scorecard_markdown(card)
    only_new = score(
        PRODUCTION, "green", stored(record_of(sent)), [(added[-1], answer("low"))], LABEL
    )
    assert (only_new.verdict, only_new.conclusion) == (ScoreVerdict.NO_BASELINE, "neutral")
    assert "new or changed in this pull request" in only_new.why


def test_no_baseline_is_neutral_and_says_why() -> None:
    card = not_scored(PRODUCTION, "green", "production has no recorded answers yet")
    assert card.conclusion == "neutral"
    assert json.loads(scorecard_json(card))["why"] == "production has no recorded answers yet"
    assert "➖ not scored against production" in scorecard_markdown(card)
    assert json.loads(scorecard_json(None)) == {"verdict": "not configured"}


def test_what_the_models_answered_stays_text_in_the_scorecard() -> None:
    sent = requests(6)
    hostile = [(r, Answer(200, json.dumps({"risk": HOSTILE}).encode(), 3.0)) for r in sent]
    card = score(PRODUCTION, "green", stored(record_of(sent)), hostile, LABEL)
    markdown = scorecard_markdown(card)
    # every character that could start markup is escaped: no tag, link or code span forms
    assert not re.search(r"(?<!\\)[<\[`]", markdown.replace("<code>", "").replace("</code>", ""))
    rows = [line for line in markdown.splitlines() if ".json" in line]
    assert len(rows) == 5
    for row in rows:  # every row keeps its four cells: no answer closes one
        assert row.count("|") == 5
    assert not any(line.startswith("::") for line in markdown.splitlines())
    assert bounded(markdown) == markdown


def test_a_preview_is_scored_against_production_unless_the_file_names_another() -> None:
    assert baseline_environment(None, ("preview", "production")) == "production"
    assert baseline_environment(None, ("preview", "prod")) is None  # no scorecard
    assert baseline_environment("prod", ("preview", "prod")) == "prod"
