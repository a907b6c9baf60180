"""The GitHub Actions runner's I/O: workflow commands (annotations, masks, groups), log lines
the runner cannot take for commands, and the output and summary files.

Escaping follows the runner: in data `%`, CR and LF are escaped; in properties also `:` and `,`.
Outside GitHub Actions the same calls print plain text and write nothing to runner files.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import sys
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

from deployer.diagnostics import Problem, one_line
from deployer.errors import DeployerError

SUMMARY_LIMIT = 1024 * 1024  # bytes of job summary per step (actions/runner)


def in_github_actions(environ: Mapping[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: str | int) -> str:
    """One workflow command line, e.g. ``::error file=deploy.yml,line=3::message``."""
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::{name}{' ' + rendered if rendered else ''}::{escape_data(message)}"


def problem_annotation(problem: Problem, file: str) -> str:
    where = problem.file or file
    return command(
        str(problem.severity),
        problem.message,
        file=where,
        line=problem.line,
        col=problem.column,
        title=where,
    )


# Characters .NET's String.TrimStart() removes (char.IsWhiteSpace) are all whitespace to Python
# too; these invisible ones are not whitespace to either, and are stripped as well to be sure.
_TRIMMED = "".join(char for char in map(chr, range(0x3001)) if char.isspace()) + (
    "\u180e\u200b\u200c\u200d\u2060\ufeff"
)


def neutralise(line: str) -> str:
    """`line` as text the runner cannot take for a workflow command.

    The runner (actions/runner `ActionCommand.TryParseV2` / `TryParse`) reads a line as a
    command when, after its leading whitespace is trimmed, it starts with `::`, or when it
    holds `##[` anywhere. Here `##[` becomes `## [` and a leading `::` becomes `: :`; neither
    edit can create the other pattern. Lone surrogates (which UTF-8 cannot carry) become `?`.
    `line` must be one line: the runner splits at CR and LF.
    """
    line = line.encode("utf-8", "replace").decode("utf-8")
    line = line.replace("##[", "## [")
    indent = len(line) - len(line.lstrip(_TRIMMED))
    if line.startswith("::", indent):
        line = f"{line[:indent]}: :{line[indent + 2 :]}"
    return line


def encoded_forms(secret: str) -> set[str]:
    """`secret` and the encodings the runner's masker also hides (actions/runner
    `HostContext` registers base64, JSON, URI and XML escaping): JSON- and URL-escaped, and
    base64 at each of the three byte alignments, without the edge characters that depend on
    the bytes around it. Forms shorter than 8 characters are left out: they would hide
    ordinary text."""
    raw = secret.encode("utf-8", "replace")
    forms = {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret, safe="")}
    forms.add(urllib.parse.quote_plus(secret))
    for shift in range(3):
        encoded = base64.b64encode(raw[shift:]).decode().rstrip("=")
        forms.add(encoded[1:-1] if shift else encoded[:-1])
    for line in secret.splitlines():
        if line.strip():
            forms.add(line.strip())
    return {secret} | {form for form in forms if len(form) >= 8}


class _Scrubber:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        record.msg = neutralise(one_line(self.runner.scrub(record.getMessage())))
        record.args = ()
        record.levelname = record.levelname.lower()
        return True


class Runner:
    """Where the deployer talks to the person reading the log and to the runner.

    Inside GitHub Actions every line goes to stdout: the runner reads stdout and stderr on two
    threads and, for each batch, handles the stderr lines first (actions/runner
    `ProcessInvoker.ProcessOutput`), so an `::add-mask::` on stdout could otherwise take effect
    after a line on stderr that it should have masked. Outside Actions, log lines go to stderr
    and a command's result (the plan, the validation summary) to stdout.

    Only `_command` writes workflow commands. Every other line is text, and much of it is not
    ours (build output, container logs, Azure's errors, names from the deploy file): it is
    scrubbed of every registered secret and `neutralise`d before it is printed.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.environ = dict(environ if environ is not None else os.environ)
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.in_actions = in_github_actions(self.environ)
        self.log = self.stdout if self.in_actions else self.stderr
        self._secrets: set[str] = set()
        self._patterns: list[str] = []

    # --- secrets -------------------------------------------------------------------------

    def mask(self, secret: str | None) -> None:
        """Register a secret with the runner before anything could print it; our own output
        is scrubbed of it everywhere (inside GitHub Actions or not), in the encoded forms the
        runner masks too: a model server can echo a key back base64- or URL-encoded."""
        if not secret or not secret.strip() or secret in self._secrets:
            return
        self._secrets.add(secret)
        self._patterns = sorted(
            {form for value in self._secrets for form in encoded_forms(value)},
            key=len,
            reverse=True,
        )
        if self.in_actions:
            self._command(command("add-mask", secret))

    def scrub(self, text: str) -> str:
        for form in self._patterns:
            text = text.replace(form, "***")
        return text

    def capture_logging(self, debug: bool) -> None:
        """Every library's log records (the Azure SDK's warnings, or with RUNNER_DEBUG=1 its
        debug logs, which carry Azure's response bodies) and Python's warnings go through
        this runner: scrubbed of every secret registered so far (azure-core already redacts
        Authorization headers) and neutralised, never straight to stderr."""
        import logging

        handler = logging.StreamHandler(self.log)
        handler.addFilter(_Scrubber(self))
        prefix = "debug" if debug else "%(levelname)s"
        handler.setFormatter(logging.Formatter(f"{prefix}: %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if debug else logging.WARNING)
        logging.captureWarnings(True)

    # --- log lines -----------------------------------------------------------------------

    def _command(self, line: str) -> None:
        print(line, file=self.stdout, flush=True)

    def _print(self, message: str, stream: TextIO) -> None:
        for line in self.scrub(message).splitlines() or [""]:
            print(neutralise(line), file=stream, flush=True)

    def info(self, message: str) -> None:
        self._print(message, self.log)

    def result(self, message: str) -> None:
        """What a command hands back (the plan, the validation summary): stdout."""
        self._print(message, self.stdout)

    def warning(self, message: str, title: str = "azureml-deploy") -> None:
        message = self.scrub(message)
        if self.in_actions:
            self._command(command("warning", message, title=title))
        else:
            self.info(f"warning: {message}")

    def error(self, message: str, title: str = "azureml-deploy") -> None:
        message = self.scrub(message)
        if self.in_actions:
            self._command(command("error", message, title=title))
        else:
            self.info(f"error: {one_line(message)}")

    def problems(self, problems: Iterable[Problem], file: str) -> None:
        """Deploy-file problems, each as `file:line:col: error: …` and, inside Actions, as an
        annotation at its line (the one place problems are shown)."""
        for problem in problems:
            self.info(problem.human(file))
            if self.in_actions:
                self._command(problem_annotation(problem, file))

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.in_actions:
            self._command(f"::group::{escape_data(self.scrub(title))}")
        else:
            self.info(f"── {title}")
        try:
            yield
        finally:
            if self.in_actions:
                self._command("::endgroup::")

    # --- files -------------------------------------------------------------------------------

    def set_outputs(self, outputs: Mapping[str, str]) -> None:
        """Write step outputs to GITHUB_OUTPUT with a random heredoc delimiter, as the
        toolkit does; a value holding the delimiter is refused, never truncated."""
        path = self.environ.get("GITHUB_OUTPUT")
        if not path:
            return
        lines = []
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            if delimiter in name or delimiter in value:
                raise DeployerError(f"output {name} contains its own delimiter; not written")
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))

    def add_summary(self, markdown: str) -> None:
        """Append to the job summary, within the runner's 1 MiB per step (a bigger summary
        is not shown at all)."""
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        summary = Path(path)
        used = summary.stat().st_size if summary.exists() else 0
        data = self.scrub(markdown).encode("utf-8", "replace")
        if used + len(data) > SUMMARY_LIMIT:
            note = "\n\n_(the rest of this summary was left out: GitHub shows at most 1 MiB)_\n"
            room = max(SUMMARY_LIMIT - used - len(note.encode()), 0)
            data = data[:room].decode("utf-8", "ignore").encode() + note.encode()
            if used + len(data) > SUMMARY_LIMIT:
                return
        with summary.open("ab") as handle:
            handle.write(data)
