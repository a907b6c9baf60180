"""Inside GitHub Actions: OIDC from the job, masked keys, outputs file, job summary."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import App
from tools.runner.action import parse_file_commands


def parse_outputs(path: Path) -> dict[str, str]:
    return parse_file_commands(path.read_text())


def test_keys_are_masked_before_anything_prints_them(app: App, tmp_path: Path) -> None:
    oidc = app.emulator["oidc"]
    run = app.deploy_in_a_job(tmp_path)
    result, output, summary, home = run.result, run.output, run.summary, run.home
    assert result.returncode == 0, result.stderr
    outputs = parse_outputs(output)
    secrets = [outputs["primary-key"], outputs["secondary-key"], oidc["request_token"]]
    assert all(secrets)
    masks = re.findall(r"^::add-mask::(.+)$", result.stdout, re.M)
    for secret in secrets:
        assert secret in masks
    log = result.stdout + result.stderr
    for secret in secrets:
        assert log.count(secret) == 1, "only in its own ::add-mask:: line"
    assert set(outputs) >= {
        "endpoint-name",
        "scoring-uri",
        "primary-key",
        "image",
        "traffic",
        "plan",
        "deployment-name",
        "previous-deployment",
        "swagger-uri",
    }
    text = summary.read_text()
    assert "| Endpoint | <code>models</code>" in text and "blue 100%" in text
    assert not any(secret in text for secret in secrets)
    # No docker login: no registry credential was written anywhere.
    assert not (home / ".docker").exists()
    written = [p for p in app.root.rglob("*") if p.is_file() and ".git" not in p.parts]
    for path in written:
        text = path.read_text(errors="ignore")
        assert not any(secret in text for secret in secrets), path
    # Every GitHub ID token the run used was masked too.
    assert sum(1 for mask in masks if mask.count(".") == 2) >= 1


def test_no_id_token_permission_says_so(app: App) -> None:
    result = app.deploy(
        "--tenant-id",
        app.emulator["tenant_id"],
        "--client-id",
        app.emulator["client_id"],
        env={"GITHUB_ACTIONS": "true"},
    )
    assert result.returncode == 1
    assert "permissions: id-token: write" in result.stdout
    assert "forks" in result.stdout
    assert result.stderr == ""
    assert "::error title=azureml-deploy::" in result.stdout
