"""The check run of a preview's scorecard, "azureml-deploy scorecard" on the pull request's head
commit: success when its answers agree with the baseline's as the baseline's rule requires,
failure when they do not, neutral when there is no baseline to judge against (GitHub lets a
neutral check pass a required one, as it does a skipped job). A branch protection rule can
require it by name."""

from __future__ import annotations

from typing import cast

from deployer.github.checks import CheckRuns, Conclusion
from deployer.scorecard import Scorecard
from deployer.scorecard_report import scorecard_markdown

NAME = "azureml-deploy scorecard"


def completed(checks: CheckRuns, head_sha: str, card: Scorecard) -> None:
    title = f"Against {card.baseline.environment}: {card.verdict}"
    summary = scorecard_markdown(card)
    checks.completed(NAME, head_sha, cast(Conclusion, card.conclusion), title, summary)
