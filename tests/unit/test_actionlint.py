"""`make lint`'s actionlint (tools/actionlint.cjs): it catches real mistakes in a workflow, and
the one message it ignores is the one GitHub's docs make wrong, nothing near it."""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "actionlint.cjs"

JOB = """\
on: pull_request
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
{extra}    steps:
      - run: {script}
"""


def job(extra: str = "", script: str = "make test") -> str:
    return JOB.format(extra=textwrap.indent(extra, "    "), script=script)


CASES = {
    "clean": job(),
    "unknown-key": job(extra="timeout: 5\n"),
    "untrusted-title": job(script='"echo ${{ github.event.pull_request.title }}"'),
    "deployment-false": job(extra="environment:\n  name: preview\n  deployment: false\n"),
    # A misspelt key beside `deployment` is still an error, and so is the next problem.
    "near-the-ignore": job(
        extra="environment:\n  name: preview\n  deployment: false\n  urll: https://example.com\n",
        script='"echo ${{ github.head_ref }}"',
    ),
}


def run(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert (ROOT / "node_modules" / "@tktco" / "node-actionlint").is_dir(), (
        "actionlint is not installed: run `make setup`"
    )
    return subprocess.run(
        ["node", str(RUNNER), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@dataclass(frozen=True)
class Findings:
    cases: dict[str, list[str]]  # each case's lines of output
    repository: list[str]  # lines about the repository's own workflows
    summary: str  # actionlint's closing line


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> Findings:
    """One run over all the cases and every workflow of the repository (`--repository`): the
    WebAssembly takes seconds to load, so it loads once."""
    folder = tmp_path_factory.mktemp("workflows")
    for name, text in CASES.items():
        (folder / f"{name}.yml").write_text(text)
    result = run(["--repository", *(f"{name}.yml" for name in CASES)], folder)
    assert result.returncode == 1, result.stdout + result.stderr
    cases: dict[str, list[str]] = {name: [] for name in CASES}
    repository = []
    for line in result.stdout.splitlines():
        name = line.split(".yml:")[0]
        if name in cases:
            cases[name].append(line)
        else:
            repository.append(line)
    return Findings(cases, repository, result.stderr.strip().splitlines()[-1])


def test_a_clean_workflow_passes(findings: Findings) -> None:
    assert findings.cases["clean"] == []


def test_an_unknown_key_is_reported_with_its_place(findings: Findings) -> None:
    [line] = findings.cases["unknown-key"]
    assert line.startswith('unknown-key.yml:7:5: unexpected key "timeout" for "job" section')
    assert line.endswith("[syntax-check]")


def test_an_untrusted_title_inside_run_is_reported(findings: Findings) -> None:
    [line] = findings.cases["untrusted-title"]
    assert '"github.event.pull_request.title" is potentially untrusted' in line
    assert line.endswith("[expression]")


def test_environment_deployment_false_is_accepted(findings: Findings) -> None:
    assert findings.cases["deployment-false"] == []


def test_the_ignore_is_that_one_message_only(findings: Findings) -> None:
    lines = findings.cases["near-the-ignore"]
    assert len(lines) == 2, lines
    assert 'unexpected key "urll" for "environment" section' in lines[0]
    assert '"github.head_ref" is potentially untrusted' in lines[1]


def test_every_workflow_of_the_repository_is_linted_and_passes(findings: Findings) -> None:
    assert findings.repository == []
    count = sum(
        len(list((ROOT / folder).glob("*.yml")))
        for folder in (".github/workflows", "examples/workflows")
    )
    assert count > 0
    problems = sum(len(lines) for lines in findings.cases.values())
    assert findings.summary == (
        f"actionlint: {problems} problem(s) in {count + len(CASES)} workflow file(s)"
    )
