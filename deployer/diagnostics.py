"""Problems found in a user's file, each at a 1-based line and column."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"  # how a field was read, nothing to fix (a workflow command's name too)


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    column: int
    severity: Severity
    message: str
    file: str = ""  # another file than the deploy file (an az ml file it names), as shown

    def human(self, file: str) -> str:
        """The compiler-style form: ``deploy.yml:12:5: error: ...``; `file` is the deploy
        file's name, for a problem in the deploy file itself."""
        where = self.file or file
        return (
            f"{one_line(where)}:{self.line}:{self.column}: {self.severity}: "
            f"{one_line(self.message)}"
        )


def has_errors(problems: list[Problem]) -> bool:
    return any(problem.severity is Severity.ERROR for problem in problems)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'instance_type'?"`` when a choice is close to `word`, else ``""``."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def one_line(text: str) -> str:
    """`text` with line breaks made visible, so user data cannot start a new log line
    (a log line starting with `::` would be read by the runner as a workflow command)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
