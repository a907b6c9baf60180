"""Every path the deploy file names is resolved (symlinks too) from the deploy file's real
folder, must stay inside the workspace, and the path that was checked is the path used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deployer.files import UnreadableFile, read_bounded
from deployer.spec import load_deploy_spec, validate_deploy_file

DEPLOY = """\
version: 1
endpoint: {{name: models}}
image:
  registry: contosoml.azurecr.io
  repository: model-server
  build: {{context: {context}, dockerfile: {dockerfile}}}
deployment:
  instance_type: Standard_DS2_v2
  inference_config:
    liveness_route: {{port: 5001, path: /health}}
    readiness_route: {{port: 5001, path: /ready}}
    scoring_route: {{port: 5001, path: /score}}
smoke_test: {{request: {request}}}
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workspace"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")
    (root / "request.json").write_text('{"rows": []}\n')
    monkeypatch.setenv("GITHUB_WORKSPACE", str(root))
    return root


def deploy_file(where: Path, **paths: str) -> Path:
    values = {"context": "app", "dockerfile": "Dockerfile", "request": "request.json", **paths}
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(DEPLOY.format(**values))
    return where


def errors(path: Path, workspace: Path) -> list[str]:
    report = validate_deploy_file(path, workspace=workspace)
    return [problem.message for problem in report.problems]


def test_a_symlinked_deploy_file_uses_the_paths_it_validated(workspace: Path) -> None:
    """The issue's attack: deploy.yml is a symlink into a subfolder, so `../../..` from the
    file's real folder is inside the workspace but from the link's folder it is not. Before,
    validation used one folder and the deploy the other: the smoke test POSTed
    /proc/self/environ (with the runner's tokens) to the model."""
    real = deploy_file(
        workspace / "a" / "b" / "c" / "deploy.yml",
        request="../../../request.json",
        context="../../../app",
    )
    link = workspace / "deploy.yml"
    link.symlink_to(real.relative_to(workspace))
    spec = load_deploy_spec(link, None, workspace=workspace)
    assert spec.smoke_test is not None and spec.image.build is not None
    assert spec.smoke_test.request == (workspace / "request.json").resolve()
    assert spec.image.build.context == (workspace / "app").resolve()
    assert spec.image.build.dockerfile == (workspace / "app" / "Dockerfile").resolve()


def test_a_path_to_the_runners_environment_is_refused(workspace: Path) -> None:
    link_target = deploy_file(
        workspace / "a" / "b" / "c" / "deploy.yml", request="../../../../../../proc/self/environ"
    )
    (workspace / "deploy.yml").symlink_to(link_target)
    found = errors(workspace / "deploy.yml", workspace)
    assert any("smoke_test.request points outside the workspace" in m for m in found), found


def test_a_symlink_out_of_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"token": "x"}')
    (workspace / "leak.json").symlink_to(outside / "secret.json")
    (workspace / "ctx").symlink_to(outside, target_is_directory=True)
    path = deploy_file(workspace / "deploy.yml", request="leak.json", context="ctx")
    found = errors(path, workspace)
    assert any("smoke_test.request points outside the workspace" in m for m in found), found
    assert any("image.build.context points outside the workspace" in m for m in found), found


def test_a_deploy_file_outside_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    from deployer.errors import UsageError

    outside = deploy_file(tmp_path / "elsewhere" / "deploy.yml")
    (workspace / "deploy.yml").symlink_to(outside)
    with pytest.raises(UsageError, match="outside the workspace"):
        validate_deploy_file(workspace / "deploy.yml", workspace=workspace)


def test_a_dockerfile_outside_its_context_but_in_the_workspace_is_used_as_checked(
    workspace: Path,
) -> None:
    (workspace / "docker").mkdir()
    (workspace / "docker" / "Dockerfile.prod").write_text("FROM scratch\n")
    path = deploy_file(workspace / "deploy.yml", dockerfile="../docker/Dockerfile.prod")
    spec = load_deploy_spec(path, None, workspace=workspace)
    assert spec.image.build is not None
    assert spec.image.build.dockerfile == (workspace / "docker" / "Dockerfile.prod").resolve()


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_read(
    workspace: Path, tmp_path: Path
) -> None:
    path = deploy_file(workspace / "deploy.yml")
    spec = load_deploy_spec(path, None, workspace=workspace)
    assert spec.smoke_test is not None
    checked = spec.smoke_test.request
    assert read_bounded(checked, 1024) == b'{"rows": []}\n'
    (tmp_path / "environ").write_text("ACTIONS_RUNTIME_TOKEN=x")
    checked.unlink()
    checked.symlink_to(tmp_path / "environ")
    with pytest.raises(UnreadableFile):
        read_bounded(checked, 1024)


def test_files_are_read_bounded_and_only_if_regular(workspace: Path) -> None:
    big = workspace / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(UnreadableFile, match="larger than 1 KiB"):
        read_bounded(big.resolve(), 1024)
    fifo = workspace / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        read_bounded(fifo.resolve(), 1024)
