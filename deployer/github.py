"""The GitHub Actions runner's I/O: workflow commands (annotations, masks, groups), the output
and summary files, and the OIDC ID-token request.

Escaping follows the runner: in data `%`, CR and LF are escaped; in properties also `:` and `,`.
Outside GitHub Actions the same calls print plain text and write nothing to runner files.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

import requests

from deployer.diagnostics import Problem, one_line
from deployer.errors import DeployerError

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience
_RETRIED_STATUSES = {502, 503, 504}


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
    return command(
        str(problem.severity),
        problem.message,
        file=file,
        line=problem.line,
        col=problem.column,
        title=file,
    )


class _Scrubber:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        record.msg = one_line(self.runner.scrub(record.getMessage()))
        record.args = ()
        return True


class OidcError(DeployerError):
    """The GitHub ID token could not be obtained."""


class Runner:
    """Where the deployer talks to the person reading the log and to the runner."""

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
        self._secrets: set[str] = set()

    # --- secrets -------------------------------------------------------------------------

    def mask(self, secret: str | None) -> None:
        """Register a secret with the runner before anything could print it; our own output
        is scrubbed of it everywhere (inside GitHub Actions or not)."""
        if not secret or not secret.strip() or secret in self._secrets:
            return
        self._secrets.add(secret)
        if self.in_actions:
            self._command(command("add-mask", secret))

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def debug_logging(self) -> None:
        """RUNNER_DEBUG=1: the Azure SDK's own logs on stderr, scrubbed of every secret this
        run has registered (azure-core already redacts Authorization headers)."""
        import logging

        handler = logging.StreamHandler(self.stderr)
        handler.addFilter(_Scrubber(self))
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.DEBUG)

    # --- log lines -----------------------------------------------------------------------

    def _command(self, line: str) -> None:
        print(line, file=self.stdout, flush=True)

    def info(self, message: str) -> None:
        for line in self.scrub(message).splitlines() or [""]:
            print(self._safe(line), file=self.stderr, flush=True)

    def _safe(self, line: str) -> str:
        # A log line starting with `::` would be read by the runner as a workflow command.
        return " " + line if line.lstrip().startswith("::") else line

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
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(self.scrub(markdown))

    # --- OIDC ------------------------------------------------------------------------------

    @property
    def can_request_id_tokens(self) -> bool:
        return bool(self.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")) and bool(
            self.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        )

    def id_token(self, audience: str = TOKEN_EXCHANGE_AUDIENCE) -> str:
        """A fresh GitHub OIDC ID token (masked before it is returned)."""
        url = self.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL", "")
        token = self.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "")
        return request_id_token(url, token, audience, self)


def request_id_token(url: str, request_token: str, audience: str, runner: Runner) -> str:
    """GET {url}&audience=…, as actions/toolkit does: bearer request token, retries on
    502/503/504 (up to 10 attempts)."""
    runner.mask(request_token)
    separator = "&" if "?" in url else "?"
    full = f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}"
    headers = {
        "Authorization": f"Bearer {request_token}",
        "Accept": "application/json",
        "User-Agent": "actions/oidc-client",
    }
    last = ""
    for attempt in range(10):
        try:
            response = requests.get(full, headers=headers, timeout=30)
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}"
        else:
            if response.status_code == 200:
                value = _id_token_value(response)
                runner.mask(value)
                return value
            last = f"HTTP {response.status_code}"
            if response.status_code not in _RETRIED_STATUSES:
                break
        time.sleep(min(2**attempt * 0.2, 5))
    raise OidcError(
        f"could not get a GitHub OIDC ID token ({last})",
        hint="check that the job has `permissions: id-token: write`",
    )


def _id_token_value(response: requests.Response) -> str:
    try:
        value = response.json().get("value")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise OidcError("the ID token response has no `value`")
    return value


def dump_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
