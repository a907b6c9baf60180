"""The GitHub Actions runner's reading of a step's output, rule for rule, to check what the
action prints: which lines become workflow commands, and what the log then shows.

Ported from actions/runner (a reference to read, not code we copy):
- `src/Runner.Worker/Handlers/OutputManager.cs` `OnDataReceived`: a line that contains `##[` or
  `::` is offered to the command manager; if it is not processed, it is output (masked).
- `src/Runner.Common/ActionCommand.cs` `TryParseV2`: the line, after `TrimStart()`, starts
  with `::`; the name runs to the first space of the text before the next `::` and must be a
  registered command (case-insensitive); properties split on `,` then the first `=`.
  `TryParse` (tried when V2 fails): `##[` anywhere in the line, the name up to `]` or a space,
  properties split on `;`.
- `src/Runner.Worker/ActionCommandManager.cs` `TryProcessCommand`: `stop-commands` registers
  its data as a token and ignores every command until one named like the token (either form)
  arrives; the registered extensions; `add-mask` echoes as `::add-mask::***`.
- `src/Runner.Sdk/ProcessInvoker.cs`: stdout and stderr are read on two threads and, in each
  batch, stderr lines are handled first; `replay` takes that worst case (all of stderr, then
  all of stdout), so a mask on stdout does not count for a line on stderr.
- `src/Sdk/DTLogging/Logging/SecretMasker.cs` and `HostContext.cs`: a value and each of its
  lines are masked, with its encoded forms, in lines handled after the `add-mask`.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

# char.IsWhiteSpace: Unicode Zs, Zl, Zp, and U+0009-000D, U+0085, U+00A0.
DOTNET_WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
EXTENSIONS = frozenset(
    {
        "set-env",
        "set-output",
        "save-state",
        "add-mask",
        "add-path",
        "add-matcher",
        "remove-matcher",
        "debug",
        "warning",
        "error",
        "notice",
        "group",
        "endgroup",
        "echo",
    }
)
STOP_COMMANDS = "stop-commands"


def _unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for token, replacement in mappings:
        text = text.replace(replacement, token)
    return text


_DATA = (("\r", "%0D"), ("\n", "%0A"), ("%", "%25"))
_PROPERTY = (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25"))
_LEGACY = ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"), ("%", "%25"))


@dataclass(frozen=True)
class Command:
    name: str  # as written
    properties: dict[str, str]
    data: str
    form: str  # "::" (TryParseV2) or "##[" (TryParse)
    line: str  # the line it came from


def parse_v2(line: str, registered: set[str]) -> Command | None:
    message = line.lstrip(DOTNET_WHITESPACE)
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name.lower() not in registered:
        return None
    properties = _properties(info[space + 1 :].strip() if space > 0 else "", ",", _PROPERTY)
    return Command(name, properties, _unescape(message[end + 2 :], _DATA), "::", line)


def parse_legacy(line: str, registered: set[str]) -> Command | None:
    prefix = line.find("##[")
    if prefix < 0:
        return None
    bracket = line.find("]", prefix)
    if bracket < 0:
        return None
    info = line[prefix + 3 : bracket]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name.lower() not in registered:
        return None
    properties = _properties(info[space + 1 :] if space > 0 else "", ";", _LEGACY)
    return Command(name, properties, _unescape(line[bracket + 1 :], _LEGACY), "##[", line)


def _properties(text: str, separator: str, mappings: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """`k=v` pairs split on `separator`, then on the first `=`; keys case-insensitive."""
    properties: dict[str, str] = {}
    for pair in filter(None, text.split(separator)):
        key, equals, value = pair.partition("=")
        if equals and key and value:
            properties[key.lower()] = _unescape(value, mappings)
    return properties


def encodings(secret: str) -> dict[str, str]:
    """The encoded forms the runner masks too, each with the name of its encoder: base64 (and
    its 1- and 2-byte shifted forms), JSON string escaping, URI data escaping, XML escaping,
    trimmed quotes. The deployer keeps its own list (deployer/github/runner.py) on purpose:
    this one, written from the runner's source, is what the tests hold it to."""
    raw = secret.encode()
    xml = (
        secret.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )
    forms: dict[str, str] = {}
    for form, name in (
        (secret, "raw"),
        (json.dumps(secret)[1:-1], "JSON-escaped"),
        (urllib.parse.quote(secret, safe=""), "URL-encoded"),
        (xml, "XML-escaped"),
        (secret.strip('"'), "quotes trimmed"),
    ):
        forms.setdefault(form, name)  # a form two encoders make is named by the first
    for shift in range(3):
        encoded = base64.b64encode(raw[shift:]).decode().rstrip("=")
        forms.setdefault(encoded[1:] if shift else encoded, "base64")
    return {form: name for form, name in forms.items() if len(form) >= 4}


class Masker:
    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, secret: str) -> None:
        if not secret.strip():
            return
        self.values.add(secret)
        for line in re.split(r"[\r\n]+", secret):
            if line.strip():
                self.values.add(line.strip())

    def patterns(self) -> set[str]:
        return {form for value in self.values for form in encodings(value)}

    def mask(self, line: str) -> str:
        for form in sorted(self.patterns(), key=len, reverse=True):
            line = line.replace(form, "***")
        return line


@dataclass
class Replay:
    """What the runner made of a step's output."""

    commands: list[Command] = field(default_factory=list)  # processed, in order
    log: list[str] = field(default_factory=list)  # as the log shows it
    masker: Masker = field(default_factory=Masker)
    leaks: list[str] = field(default_factory=list)  # watched secrets shown before their mask
    stopped: bool = False  # a stop-commands was in force at the end

    def named(self, name: str) -> list[Command]:
        return [command for command in self.commands if command.name.lower() == name]


def replay(lines: Iterable[str], watched: Iterable[str] = ()) -> Replay:
    """Feed `lines` (already in the order the runner handles them) through the runner's
    command processing and masking. A `watched` secret that shows in a log line before it
    is masked is a leak."""
    result = Replay()
    registered = set(EXTENSIONS) | {STOP_COMMANDS}
    token: str | None = None
    secrets = [secret for secret in watched if secret]
    for raw in lines:
        for line in re.split(r"\r\n|\r|\n", raw) if raw else [raw]:
            command = None
            if "##[" in line or "::" in line:
                command = parse_v2(line, registered) or parse_legacy(line, registered)
            if command is not None:
                name = command.name.lower()
                if token is not None:
                    if name == token.lower():
                        registered.discard(token.lower())
                        token = None
                        result.commands.append(command)
                        result.log.append(result.masker.mask(line))
                        continue
                    command = None  # ignored while commands are stopped: plain output
                elif name == STOP_COMMANDS:
                    token = command.data
                    registered.add(token.lower())
                    result.commands.append(command)
                    result.log.append(result.masker.mask(line))
                    continue
                elif name in EXTENSIONS:
                    result.commands.append(command)
                    if name == "add-mask":
                        result.masker.add(command.data)
                        result.log.append("::add-mask::***")
                    continue
            shown = result.masker.mask(line)
            for secret in secrets:
                if secret in shown:
                    result.leaks.append(f"{secret[:4]}… shown before its add-mask: {shown[:120]}")
            result.log.append(shown)
    result.stopped = token is not None
    return result


def replay_streams(stdout: str, stderr: str, watched: Iterable[str] = ()) -> Replay:
    """Both streams of a step as the runner may handle them: stderr's lines first."""
    return replay([*stderr.splitlines(), *stdout.splitlines()], watched)


# The commands azureml-deploy writes, and how: at the start of a line, in the `::` form.
OWN_COMMANDS = frozenset({"add-mask", "group", "endgroup", "error", "warning"})


def foreign_commands(result: Replay, masks: Iterable[str] | None = None) -> list[str]:
    """Every processed command that azureml-deploy did not write: another name or form, a
    command not at the start of its line, an annotation without the action's title (or a
    file and line), a mask for a value not in `masks` (when given)."""
    allowed = set(masks) if masks is not None else None
    found = []
    for command in result.commands:
        name = command.name
        why = ""
        if name not in OWN_COMMANDS:
            why = "not a command azureml-deploy writes"
        elif command.form != "::" or not command.line.startswith("::"):
            why = "not at the start of its line"
        elif name in ("error", "warning"):
            title = command.properties.get("title")
            problem = "file" in command.properties and "line" in command.properties
            if title != "azureml-deploy" and not (problem and title == command.properties["file"]):
                why = "an annotation without the action's title"
        elif name == "add-mask" and allowed is not None and command.data not in allowed:
            why = "a mask for a value azureml-deploy was not given"
        if why:
            found.append(f"{why}: {command.line[:160]!r}")
    return found
