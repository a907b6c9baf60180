"""The check run of a preview deploy, "azureml-deploy preview" on the pull request's head commit:
in progress while the preview deploys, then success with where it answers, or failure with
why. A branch protection rule can require it by name.

It never holds a key: the scoring URI and the endpoint's studio page only. Every value that is
not ours (Azure's URI, a failure's message) is escaped for markdown (deployer/markdown.py).
"""

from __future__ import annotations

from deployer import markdown as md
from deployer.github.checks import CheckRuns
from deployer.github.comment import Live, link, table

NAME = "azureml-deploy preview"


def started(checks: CheckRuns, head_sha: str, endpoint: str) -> None:
    checks.started(
        NAME,
        head_sha,
        f"Deploying preview {endpoint}",
        f"The preview endpoint {md.code(endpoint)} is being deployed from this commit.",
    )


def succeeded(checks: CheckRuns, head_sha: str, endpoint: str, live: Live) -> None:
    rows = [
        ("Scoring URI", md.code(live.scoring_uri)),
        ("Deployment", md.code(live.deployment)),
        ("Traffic", md.text(live.traffic)),
        ("Smoke test", md.text(live.smoke)),
        ("Azure ML studio", f"[{md.text(endpoint)}](<{link(live.studio_url)}>)"),
    ]
    summary = "\n".join(
        [
            f"The preview endpoint {md.code(endpoint)} is live and passed its smoke test.",
            "",
            *table(rows),
        ]
    )
    checks.completed(NAME, head_sha, "success", f"Preview {endpoint} is live", summary)


def failed(checks: CheckRuns, head_sha: str, endpoint: str, message: str) -> None:
    summary = "\n".join(
        [
            f"The deploy of the preview endpoint {md.code(endpoint)} failed:",
            "",
            md.block(message),
            "",
            "What served before this push still serves (a failed rollout is undone).",
        ]
    )
    checks.completed(NAME, head_sha, "failure", f"Preview {endpoint}: the deploy failed", summary)
