"""Searches everything a run leaves behind for every secret the emulator handed out, in every
form the runner masks and the forms a text could still carry them in (see `encodings`)."""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from emulator.client import Emulator
from tools.repo import App
from tools.runner.log import encodings as runner_encodings


def encodings(secret: str) -> dict[str, str]:
    """The forms a log could carry `secret` in → the name of the encoding: every form the
    runner masks, and the forms it does not mask that a text still carries the secret in
    (form-encoded; base64 of a longer text that holds the secret, whose edge characters depend
    on its neighbours). A form found is a leak, masked or not."""
    forms = dict(runner_encodings(secret))
    forms.setdefault(urllib.parse.quote_plus(secret), "URL-encoded")
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(raw[shift:]).decode().rstrip("=")
        forms.setdefault(encoded[1:-1] if shift else encoded[:-1], "base64")
    return {form: label for form, label in forms.items() if len(form) >= 8}


@dataclass
class Findings:
    secrets: int = 0  # how many distinct secrets were searched for
    places: int = 0  # how many texts and files were searched
    bytes: int = 0  # how much text that was
    leaks: list[str] = field(default_factory=list)


def scan(secrets: list[str], texts: dict[str, str], folders: list[Path]) -> Findings:
    """`texts`: name → content (logs, summaries); `folders`: searched recursively."""
    wanted = {secret for secret in secrets if len(secret) >= 8}
    forms = {
        form: (number, label)
        for number, secret in enumerate(sorted(wanted), 1)
        for form, label in encodings(secret).items()
    }
    findings = Findings(secrets=len(wanted))
    everything = dict(texts)
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and ".git" not in path.parts and path.stat().st_size < 5_000_000:
                everything[str(path)] = path.read_text(errors="ignore")
    findings.places = len(everything)
    findings.bytes = sum(len(text) for text in everything.values())
    for name, text in everything.items():
        for form, (number, label) in forms.items():
            if form in text:
                # never the secret itself: the report would leak it
                at = text.index(form)
                findings.leaks.append(f"secret #{number} ({label}) in {name} at character {at}")
    return findings


def issued_secrets(emulator: Emulator, since: int) -> list[str]:
    """Every key and token the emulator issued since `since`, plus the job's OIDC request
    token and the admin API's token (issued once, when the emulator started)."""
    return [
        *emulator.secrets_since(since),
        str(emulator["oidc"]["request_token"]),
        str(emulator["admin_token"]),
    ]


def scan_runs(emulator: Emulator, apps: list[App], since: int, folders: list[Path]) -> Findings:
    """Every run of `apps` (their transcripts) and every file in `folders`, for every secret
    issued since `since`."""
    texts = {
        f"{app.root.name}: {run}": _without_mask_commands(text)
        for app in apps
        for run, text in app.transcript.items()
    }
    return scan(issued_secrets(emulator, since), texts, folders)


def _without_mask_commands(text: str) -> str:
    """`::add-mask::` lines hand secrets to the runner so that it hides them; they are the one
    place a secret belongs in the output (the runner never displays them)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))
