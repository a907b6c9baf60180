"""One scenario's figures, and the action's own account of where a run's time went: what every
scenario module fills in and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.measure import median


@dataclass
class Scenario:
    scenario: str
    goal: str
    baseline: list[float] = field(default_factory=list)
    action: list[float] = field(default_factory=list)
    floor_s: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    goal_met: bool = False

    def result(self) -> dict[str, Any]:
        baseline, action = median(self.baseline), median(self.action)
        return {
            "scenario": self.scenario,
            "baseline_s": baseline,
            "action_s": action,
            "floor_s": round(self.floor_s, 2) if self.floor_s is not None else None,
            "ratio": round(action / baseline, 3) if baseline else None,
            "goal": self.goal,
            "goal_met": self.goal_met,
            **self.figures,
            "runs": {"baseline": self.baseline, "action": self.action},
        }


def phase_seconds(output: str) -> dict[str, float]:
    """The action's own account of where a run's time went (its `timing` line), e.g.
    {"sign-in": 1.1, "push": 5.7, "deployment blue": 15.4, ...}."""
    for line in output.splitlines():
        if line.startswith("timing "):
            parts = line.removeprefix("timing").strip().split(" · ")
            return {name: float(value) for name, value, _ in (p.rsplit(" ", 2) for p in parts)}
    return {}
