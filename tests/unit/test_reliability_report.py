"""`--only-agreement` rewrites only its own cases in docs/reliability.md: it adds them at the end
of section 2 the first time, replaces them after that, and leaves every other line as it was."""

from __future__ import annotations

from tools.images import ROOT
from tools.reliability.report import ANSWERS_HEADING, splice_answers

PAGE = (ROOT / "docs" / "reliability.md").read_text("utf-8")


def _without_answers(page: str) -> str:
    begin = page.find(ANSWERS_HEADING)
    return page if begin < 0 else page[:begin] + page[page.index("## 3. Faults") :]


def test_the_cases_go_after_section_2_and_nothing_else_changes() -> None:
    before = _without_answers(PAGE)
    section = f"{ANSWERS_HEADING}\n\nfirst figures\n"
    after = splice_answers(before, section)
    assert after.count(ANSWERS_HEADING) == 1
    assert after.index("| Autoscale |") < after.index(ANSWERS_HEADING) < after.index("## 3. Faults")
    assert after.replace(section + "\n", "") == before


def test_measuring_again_replaces_them() -> None:
    before = _without_answers(PAGE)
    once = splice_answers(before, f"{ANSWERS_HEADING}\n\nfirst figures\n")
    twice = splice_answers(once, f"{ANSWERS_HEADING}\n\nnew figures\n")
    assert "first figures" not in twice and twice.count(ANSWERS_HEADING) == 1
    assert twice.replace(f"{ANSWERS_HEADING}\n\nnew figures\n\n", "") == before
