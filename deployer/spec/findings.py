"""A problem found at a path of a located document, before it is rendered for the user."""

from __future__ import annotations

from dataclasses import dataclass

from deployer.diagnostics import Problem, Severity
from deployer.spec.source import JsonPath, Mark, render_path


@dataclass(frozen=True)
class Finding:
    path: JsonPath
    detail: str  # what is wrong, phrased to follow the path: "must be >= 1 (got 0)"
    mark: Mark
    severity: Severity = Severity.ERROR
    # What found it: "schema:<keyword>" or "rule". Two findings of the same schema keyword at
    # the same place and path are the same problem, however their wording differs.
    kind: str = "rule"

    def message(self) -> str:
        return f"{render_path(self.path)} {self.detail}"

    def problem(self, prefix: str = "") -> Problem:
        mark = self.mark
        return Problem(mark.line, mark.column, self.severity, prefix + self.message(), mark.file)


def error(path: JsonPath, detail: str, mark: Mark, kind: str = "rule") -> Finding:
    return Finding(path, detail, mark, Severity.ERROR, kind)


def warning(path: JsonPath, detail: str, mark: Mark) -> Finding:
    return Finding(path, detail, mark, Severity.WARNING)


def notice(path: JsonPath, detail: str, mark: Mark) -> Finding:
    return Finding(path, detail, mark, Severity.NOTICE)
