"""Input that costs the action more than it should: a YAML file that expands without end, an
event payload nested 100,000 deep, a model server that trickles its answer or sends 300 MB.
Each is cut off at a bound the message names.

These are the hostile-input scenarios of `make reliability` (tools/reliability/hostile.py),
asserted here with their goals and the details a user would see."""

from __future__ import annotations

import time
from pathlib import Path

from deployer.smoke import smoke_test
from deployer.spec.model import SmokeTestSpec
from deployer.spec.source import MAX_NODES, MAX_VALUES
from tools.attacks import hostile_http_server, merge_bomb, merge_flood
from tools.reliability import hostile
from tools.reliability.scenarios import Outcome


def met(outcome: Outcome) -> Outcome:
    assert outcome.met, f"{outcome.name}: {outcome.figures}\n{outcome.detail}"
    return outcome


def refused(outcome: Outcome) -> Outcome:
    """validate refused the file (exit 1, no traceback), cut off by a budget, not by time: the
    report's goal of 2 s (`make reliability`) is a figure, and a loaded test machine may take
    longer to start Python; minutes or hours would mean no budget held."""
    assert outcome.figures["exit_code"] == 1, outcome.detail
    assert "Traceback" not in outcome.detail
    assert outcome.figures["seconds"] < UNBOUNDED_SECONDS, outcome.figures
    return outcome


UNBOUNDED_SECONDS = 60


def test_nested_merge_keys_are_counted(tmp_path: Path) -> None:
    """Before: ten levels of `<<: [*x, *x, …]` took hours; the run's timeout stops that."""
    refused(hostile.yaml_expansion(tmp_path, "bomb", merge_bomb()))


def test_merge_keys_past_the_node_budget_are_refused(tmp_path: Path) -> None:
    outcome = refused(hostile.yaml_expansion(tmp_path, "flood", merge_flood()))
    assert f"more than {MAX_NODES} YAML nodes" in outcome.detail
    assert f"more than {MAX_VALUES} values" not in outcome.detail  # the budget, not the values


def test_an_event_payload_nested_100000_deep_is_refused(tmp_path: Path) -> None:
    """Before: `internal error: RecursionError`."""
    outcome = met(hostile.deep_event_payload(tmp_path))
    assert "nested too deeply to be a GitHub event" in outcome.detail


def test_a_trickling_answer_is_cut_off_at_the_attempts_timeout(tmp_path: Path) -> None:
    """Before: the timeout bounded each socket read, so a byte a second kept a 5 s test alive
    for 90 s and more."""
    outcome = met(hostile.trickling_answer(tmp_path, timeout=2))
    assert "no complete answer within 2 s" in outcome.detail


def test_a_300_mb_answer_is_not_read_whole(tmp_path: Path) -> None:
    """Before: read whole, 638 MB of memory."""
    outcome = met(hostile.huge_answer(tmp_path))
    assert outcome.figures["server_sent_mib"] < 64  # the rest was never read
    assert "longer than 1 MiB" in outcome.detail


def test_the_rollouts_deadline_covers_the_smoke_test(tmp_path: Path) -> None:
    (tmp_path / "request.json").write_text("{}")
    spec = SmokeTestSpec(request=(tmp_path / "request.json").resolve(), timeout_seconds=30)
    with hostile_http_server() as (url, _):
        started = time.monotonic()
        result = smoke_test(spec, f"{url}/trickle", "key", "blue", deadline=started + 1.5)
        elapsed = time.monotonic() - started
    assert not result.passed
    assert "timeout_minutes ran out" in result.detail or "within 1.5 s" in result.detail
    assert elapsed < 10  # a bound on a 100 s trickle with timeout_seconds 30, not a figure
