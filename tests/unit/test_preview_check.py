"""The preview's check run as a reviewer reads it: what it says on success and failure, with
Azure's text shown as text and GitHub's summary limit kept in bytes."""

from __future__ import annotations

from dataclasses import dataclass, field

from deployer.github import preview_check
from deployer.github.checks import SUMMARY_LIMIT, Conclusion, bounded
from tests.unit.test_preview_comment import LIVE


@dataclass
class Checks:
    """An in-memory CheckRuns: every call, in order."""

    calls: list[tuple[str, str, str, Conclusion | None, str, str]] = field(default_factory=list)

    def started(self, name: str, head_sha: str, title: str, summary: str) -> None:
        self.calls.append(("started", name, head_sha, None, title, summary))

    def completed(
        self, name: str, head_sha: str, conclusion: Conclusion, title: str, summary: str
    ) -> None:
        self.calls.append(("completed", name, head_sha, conclusion, title, summary))


def test_a_live_preview_passes_with_where_it_answers() -> None:
    checks = Checks()
    preview_check.started(checks, "f" * 40, "models-pr7")
    preview_check.succeeded(checks, "f" * 40, "models-pr7", LIVE)
    (started, *_), (done, name, sha, conclusion, title, summary) = checks.calls
    assert started == "started"
    assert (done, name, sha, conclusion) == (
        "completed",
        "azureml-deploy preview",
        "f" * 40,
        "success",
    )
    assert title == "Preview models-pr7 is live"
    assert LIVE.scoring_uri in summary and "HTTP 200, 31 ms" in summary
    assert f"(<{LIVE.studio_url}>)" in summary


def test_a_failure_message_from_azure_stays_text() -> None:
    checks = Checks()
    hostile = "bad\n```\n# injected heading\n[click](https://evil.example)\n::error::x"
    preview_check.failed(checks, "f" * 40, "models-pr7", hostile)
    [(_, _, _, conclusion, _, summary)] = checks.calls
    assert conclusion == "failure"
    fence = "````text"  # longer than the run of backticks inside
    assert fence in summary
    inside = summary.split(fence, 1)[1].split("\n````", 1)[0]
    assert "# injected heading" in inside and "[click]" in inside


def test_a_summary_is_cut_to_githubs_limit_in_bytes_whole_characters() -> None:
    assert bounded("short") == "short"
    cut = bounded("€" * SUMMARY_LIMIT)  # three bytes each
    assert len(cut.encode()) <= SUMMARY_LIMIT
    assert cut.endswith("(cut to GitHub's limit for a check run's summary)")
    assert "\ufffd" not in cut
