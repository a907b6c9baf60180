"""The pull request comment of a preview endpoint: one per pull request and endpoint, found
again by its hidden marker and rewritten in place on every push, "deleted" on close.

The comment never holds a key: its curl step fetches one with the Azure CLI
(`az ml online-endpoint get-credentials`, Learn "Authenticate clients for online endpoints").
Every value that is not ours (Azure's scoring URI, the image, a failure's message) is escaped
for markdown (deployer/markdown.py), and the shell lines are quoted for the shell.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deployer import markdown as md
from deployer.assets.deployed import what_runs
from deployer.scorecard import Scorecard
from deployer.scorecard_report import scorecard_markdown

MARKER_PREFIX = "<!-- azureml-deploy preview "
MAX_BODY = 65536  # characters GitHub keeps of a comment's body


def marker(endpoint: str) -> str:
    """The hidden first line that finds this endpoint's comment again (the endpoint's name is
    validated by then: letters, digits and '-')."""
    return f"{MARKER_PREFIX}{endpoint} -->"


@dataclass(frozen=True)
class Where:
    """What the curl step needs to find the endpoint's credentials."""

    endpoint: str
    resource_group: str
    workspace: str
    auth_mode: str  # key | aml_token | aad_token


@dataclass(frozen=True)
class Live:
    scoring_uri: str
    deployment: str
    image: str
    traffic: str  # e.g. "green 100%"
    smoke: str
    timings: str
    studio_url: str
    run_url: str | None
    scorecard: Scorecard | None = None  # a preview's, with rollout.agreement


def _credential_command(where: Where) -> str:
    if where.auth_mode == "aad_token":
        return (
            "az account get-access-token --resource https://ml.azure.com --query accessToken -o tsv"
        )
    field = "accessToken" if where.auth_mode == "aml_token" else "primaryKey"
    return shlex.join(
        [
            "az", "ml", "online-endpoint", "get-credentials",
            "--name", where.endpoint,
            "--resource-group", where.resource_group,
            "--workspace-name", where.workspace,
            "--query", field, "-o", "tsv",
        ]
    )  # fmt: skip


def curl_step(where: Where, scoring_uri: str) -> str:
    """A shell snippet that fetches the key (or token) and calls the endpoint once."""
    lines = [
        f"TOKEN=$({_credential_command(where)})",
        "curl --fail-with-body -X POST " + shlex.quote(scoring_uri) + " \\",
        '  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\',
        "  -d @request.json",
    ]
    fence, _, rest = md.block("\n".join(lines)).partition("\n")
    return f"{fence.removesuffix('text')}sh\n{rest}"


def table(rows: Sequence[tuple[str, str]]) -> list[str]:
    return ["| | |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)]


def _footer(commit: str, run_url: str | None) -> str:
    run = f" · [workflow run](<{link(run_url)}>)" if run_url else ""
    return f"<sub>azureml-deploy · commit {md.code(commit)}{run}</sub>"


def link(url: str) -> str:
    """`url` as a markdown link target that cannot end the link."""
    return url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20").replace("\n", "")


def deploying(where: Where, commit: str, run_url: str | None) -> str:
    lines = [
        marker(where.endpoint),
        f"### ⏳ Preview {md.code(where.endpoint)}: deploying {md.code(commit)}",
        "",
        _footer(commit, run_url),
    ]
    return _bounded("\n".join(lines))


def live(where: Where, commit: str, state: Live) -> str:
    rows = [
        ("Scoring URI", md.code(state.scoring_uri)),
        ("Deployment", md.code(state.deployment)),
        *[(label, md.code(value)) for label, value in what_runs(state.image)],
        ("Traffic", md.text(state.traffic)),
        ("Smoke test", md.text(state.smoke)),
        ("Timings", md.text(state.timings)),
        ("Azure ML studio", f"[{md.text(where.endpoint)}](<{link(state.studio_url)}>)"),
    ]
    lines = [
        marker(where.endpoint),
        f"### ✅ Preview {md.code(where.endpoint)} is live",
        "",
        *table(rows),
        "",
        "Call it (the key is fetched with your own Azure sign-in, never written here):",
        "",
        curl_step(where, state.scoring_uri),
        "",
        scorecard_markdown(state.scorecard),
        _footer(commit, state.run_url),
    ]
    return _bounded("\n".join(lines))


def failed(where: Where, commit: str, message: str, run_url: str | None) -> str:
    lines = [
        marker(where.endpoint),
        f"### ❌ Preview {md.code(where.endpoint)}: the deploy of {md.code(commit)} failed",
        "",
        md.block(message),
        "",
        "What served before this push still serves (a failed rollout is undone).",
        "",
        _footer(commit, run_url),
    ]
    return _bounded("\n".join(lines))


def deleted(where: Where, commit: str, run_url: str | None) -> str:
    lines = [
        marker(where.endpoint),
        f"### 🗑️ Preview {md.code(where.endpoint)} was deleted",
        "",
        "The pull request was closed; its preview endpoint and deployments are gone.",
        "",
        _footer(commit, run_url),
    ]
    return _bounded("\n".join(lines))


def _bounded(body: str) -> str:
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"


def find_ours(comments: Sequence[Mapping[str, object]], endpoint: str) -> int | None:
    """The id of this endpoint's comment: the newest whose body starts with its marker and
    whose author is a bot (a person's comment quoting the marker is never edited)."""
    wanted = marker(endpoint)
    found = None
    for comment in comments:
        body, user = comment.get("body"), comment.get("user")
        if not isinstance(body, str) or not body.startswith(wanted):
            continue
        if not isinstance(user, Mapping) or user.get("type") != "Bot":
            continue
        identifier = comment.get("id")
        if isinstance(identifier, int) and (found is None or identifier > found):
            found = identifier
    return found


def traffic_line(traffic: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {share}%" for name, share in sorted(traffic.items())) or "none"
