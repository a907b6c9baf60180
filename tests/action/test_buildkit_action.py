"""The action's own image builds a modern Dockerfile with BuildKit (its docker CLI talking to
the runner's engine), file build secrets from the workspace included, and leaves them nowhere."""

from __future__ import annotations

import secrets
import subprocess

from tests.action.conftest import Repo
from tests.action.test_workflows import single
from tools.dockerfiles import modern
from tools.runner.job import Event

SECRETS = """    target: serve
    secrets:
      index_token: {file: .secrets/index-token}
      netrc: {file: .secrets/netrc}
"""


def test_the_action_builds_a_modern_dockerfile_with_file_secrets(repo: Repo) -> None:
    example = repo.root / "examples" / "credit-risk"
    (example / "Dockerfile").write_text(modern((example / "Dockerfile").read_text()))
    deploy = example / "deploy.yml"
    deploy.write_text(deploy.read_text().replace("    target: serve\n", SECRETS, 1))
    token, netrc = f"tok-{secrets.token_hex(12)}", f"password {secrets.token_hex(12)}"
    (example / ".secrets").mkdir()
    (example / ".secrets" / "index-token").write_text(token)
    (example / ".secrets" / "netrc").write_text(netrc)

    run = single(repo.run("release.yml", Event.push("refs/tags/v1.2.0")))
    result = run.result
    assert result.exit_code == 0, result.text
    assert "[deps 3/3] RUN --mount=type=secret,id=index_token,required=true" in result.text
    groups = [command.data for command in result.commands if command.name == "group"]
    assert any("(built-in BuildKit client)" in title for title in groups), groups
    # (" from cache (imported from the registry);" when an earlier test on this worker's
    # emulator pushed the example's build cache)
    assert "| Image build | " in result.summary and " from cache" in result.summary
    image = result.outputs["image"]
    assert image.endswith(result.outputs["digest"])
    inspect = subprocess.run(
        ["docker", "history", "--no-trunc", image],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for secret in (token, netrc):
        assert secret not in result.text
        assert secret not in result.summary
        assert secret not in inspect
