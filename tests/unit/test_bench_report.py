"""docs/performance.md says when each figure was measured, and scenario 6 shows ARM's budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results.json"


def results() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(RESULTS.read_text())
    return loaded


def test_a_scenario_measured_alone_says_so_and_shows_the_budget_it_met() -> None:
    earlier = [{k: v for k, v in r.items() if k != "measured_alone"} for r in results()]
    six = next(r for r in earlier if r["scenario"].startswith("6."))
    cleanup = dict(
        six,
        budget_runs=[six["budget_runs"][0]],
        runs={
            "baseline": [500.0],
            "action": [9.5],
        },
    )
    document = report.document(report.merged(earlier, [cleanup], 3.0), 3.0, 0.05)
    assert "Scenario 6 was measured again on its own on" in document
    others = ", ".join(r["scenario"].split(".")[0] for r in earlier if r is not six)
    assert f"Scenarios {others} are from the last full run" in document
    assert "| run | wall time | reads | writes | deletes | 429s seen | bucket floor |" in document
    assert "| 1 | 9.5 s |" in document
    assert "deletes taking Azure's 10 s" in document


def test_a_full_run_has_one_date_and_no_budget_table_without_throttling() -> None:
    plain = [
        {k: v for k, v in r.items() if k not in ("measured_alone", "budget_runs")}
        for r in results()
    ]
    document = report.document(plain, 13.0, 0.05)
    assert "One run of `make bench` on" in document
    assert "429s seen" not in document
