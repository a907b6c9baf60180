"""make demo: the example model server, deployed to the local emulator and scored.

Starts the emulator (if it is not running), deploys examples/credit-risk with the real
azureml-deploy command line, scores the endpoint with its key, and prints what a user needs:
the scoring URI, the deployment, the traffic and a ready curl command (key hidden, with the
command that reveals it). Re-running it is a no-op deploy.
"""

from __future__ import annotations

import json
import os
import shlex
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "credit-risk"
PUBLIC_BASE = "python:3.12-slim"


def run(*command: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, text=True, check=False, **kwargs)  # type: ignore[call-overload]


def base_image_args() -> str:
    """The public base image when Docker has it or can pull it; else the local build of it."""
    if run("docker", "image", "inspect", PUBLIC_BASE, capture_output=True).returncode == 0:
        return ""
    if run("docker", "pull", "-q", PUBLIC_BASE, capture_output=True).returncode == 0:
        return ""
    local = run(str(ROOT / "scripts" / "base-image.sh"), capture_output=True)
    if local.returncode != 0:
        sys.exit(f"demo: no base image: {local.stderr.strip()}")
    return f"BASE_IMAGE={local.stdout.strip().splitlines()[-1]}"


def main() -> int:
    state = Path(os.environ.get("AZUREML_EMULATOR_DIR", ROOT / ".emulator"))
    environment = {**os.environ, "AZUREML_EMULATOR_DIR": str(state)}
    if build_args := base_image_args():
        environment["AZUREML_DEPLOY_BUILD_ARGS"] = build_args
    python = str(ROOT / ".venv" / "bin" / "python")
    if run(python, "-m", "emulator", "up", "--state-dir", str(state)).returncode != 0:
        return 1
    outputs_file = state / "demo-outputs.json"
    deploy = run(
        str(ROOT / ".venv" / "bin" / "azureml-deploy"),
        "deploy",
        "--cloud",
        "local",
        "--config",
        str(EXAMPLE.relative_to(ROOT) / "deploy.yml"),
        "--output-json",
        str(outputs_file),
        env=environment,
    )
    if deploy.returncode != 0:
        return deploy.returncode
    outputs = json.loads(outputs_file.read_text())
    connection = json.loads((state / "connection.json").read_text())
    request_file = EXAMPLE / "tests" / "sample-request.json"
    request = urllib.request.Request(  # noqa: S310 - the scoring URI the deploy just printed
        outputs["scoring-uri"],
        data=request_file.read_bytes(),
        headers={
            "Authorization": f"Bearer {outputs['primary-key']}",
            "Content-Type": "application/json",
        },
    )
    context = ssl.create_default_context(cafile=connection["ca_cert"])
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310
        served_by = answer.headers.get("azureml-model-deployment")
        body = json.loads(answer.read())
    reveal = f'python3 -c \'import json; print(json.load(open("{outputs_file}"))["primary-key"])\''
    ca = connection["ca_cert"]
    curl = (
        f"curl --cacert {shlex.quote(ca)} -H 'Content-Type: application/json' "
        f'-H "Authorization: Bearer ***" -d @{request_file.relative_to(ROOT)} '
        f"{outputs['scoring-uri']}"
    )
    print(f"""
The example model server is live on the local emulator.

  scoring URI   {outputs["scoring-uri"]}
  deployment    {outputs["deployment-name"]} (traffic {outputs["traffic"]})
  image         {outputs["image"]}
  answered by   {served_by}: {json.dumps(body["predictions"])}

Score it yourself (the key is shown as ***):
  {curl}
The key:
  {reveal}
Ready to paste:
  {curl.replace("***", "$(" + reveal + ")")}

Stop the emulator with: .venv/bin/python -m emulator down""")
    return preview_comment(state, environment)


PREVIEW_PR = 42


def preview_comment(state: Path, environment: dict[str, str]) -> int:
    """The preview of pull request 42, deployed as GitHub Actions would run it (its event, a
    job token, the emulator's GitHub API), and the comment it wrote on the pull request."""
    from emulator.client import Emulator
    from emulator.identity import GITHUB_REPOSITORY as repository

    emulator = Emulator.at(state)
    token = emulator.github_token({"deployments": "write", "pull-requests": "write"})
    sha = run("git", "rev-parse", "HEAD", capture_output=True).stdout.strip() or "0" * 40
    event = state / "demo-pull-request.json"
    head = {"ref": "demo", "sha": sha, "repo": {"full_name": repository}}
    event.write_text(
        json.dumps(
            {
                "action": "opened",
                "number": PREVIEW_PR,
                "pull_request": {"number": PREVIEW_PR, "head": head},
            }
        )
    )
    emulator.github_job({"event_name": "pull_request", "environment": "preview"})
    oidc = emulator["oidc"]
    github = {
        **environment,
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": repository,
        "GITHUB_SHA": sha,
        "GITHUB_RUN_ID": "1",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": emulator["github_api_url"],
        "GITHUB_TOKEN": token,
        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["request_url"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc["request_token"],
    }
    print(f"\nDeploying the preview of pull request #{PREVIEW_PR} as GitHub Actions would ...")
    # In GitHub mode the log is workflow commands for the runner (masks among them): kept
    # out of the terminal, shown only if the deploy fails.
    preview = run(
        str(ROOT / ".venv" / "bin" / "azureml-deploy"),
        "deploy",
        "--cloud",
        "local",
        "--config",
        str(EXAMPLE.relative_to(ROOT) / "deploy.yml"),
        "--environment",
        "preview",
        env=github,
        capture_output=True,
    )
    if preview.returncode != 0:
        print(preview.stderr[-4000:], file=sys.stderr)
        return preview.returncode
    written = emulator.github_state()["comments"].get(str(PREVIEW_PR), [])
    deployments = emulator.github_state()["deployments"]
    statuses = " → ".join(status["state"] for status in deployments[-1]["statuses"])
    print(
        f"GitHub deployment {deployments[-1]['id']} ({deployments[-1]['environment']}): {statuses}"
    )
    print(f"The comment on pull request #{PREVIEW_PR}:\n")
    print(written[-1]["body"] if written else "(none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
