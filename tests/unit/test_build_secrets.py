"""image.build.secrets: validated at their line, built into the spec, and their sources checked
before anything changes (only that they exist: no value is read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deployer.errors import BuildSecretMissing
from deployer.image.secrets import check_sources
from deployer.spec.model import BuildSecret, BuildSpec
from tests.unit.deployfiles import VALID, Workspace, only

BUILD = "    dockerfile: Dockerfile\n"


def with_secrets(body: str) -> str:
    return VALID.replace(BUILD, BUILD + "    secrets:\n" + body)


def test_env_and_file_secrets_reach_the_spec(workspace: Workspace) -> None:
    body = "      pip_index: {env: PIP_TOKEN}\n      npmrc: {file: secrets/.npmrc}\n"
    report = workspace.validate(with_secrets(body))
    assert report.problems == ()
    assert report.deploy_file is not None
    build = report.deploy_file.base.image.build
    assert build is not None
    assert dict(build.secrets) == {
        "pip_index": BuildSecret(env="PIP_TOKEN"),
        "npmrc": BuildSecret(file=workspace.root / "secrets" / ".npmrc"),
    }
    # overlays merge as the rest of image.build: the base's secrets stay
    production = report.deploy_file.environments["production"].image.build
    assert production is not None and set(production.secrets) == {"pip_index", "npmrc"}


def test_an_overlay_adds_a_secret(workspace: Workspace) -> None:
    text = with_secrets("      pip_index: {env: PIP_TOKEN}\n").replace(
        "    deployment: {instance_count: 3}",
        "    deployment: {instance_count: 3}\n    image: {build: {secrets: {extra: {env: EXTRA}}}}",
    )
    report = workspace.validate(text, environment="production")
    assert report.problems == (), report.problems
    assert report.deploy_file is not None
    build = report.deploy_file.environments["production"].image.build
    assert build is not None and set(build.secrets) == {"pip_index", "extra"}


ONE_OF = "image.build.secrets.pip_index must give exactly one of `env`"
ENV_NAME = "image.build.secrets.pip_index.env must be an environment variable name"
FILE = "image.build.secrets.pip_index.file"
BAD_SECRETS = {
    "{env: PIP_TOKEN, file: token.txt}": (7, ONE_OF),
    "{}": (7, ONE_OF),
    "{env: 1TOKEN}": (24, ENV_NAME),
    "{env: PIP-TOKEN}": (24, ENV_NAME),
    "{file: /etc/passwd}": (25, f"{FILE} must be a path relative to the deploy file"),
    "{file: ../outside.txt}": (25, f"{FILE} points outside the workspace"),
}


@pytest.mark.parametrize("source", BAD_SECRETS)
def test_bad_secrets_are_reported_at_their_line(workspace: Workspace, source: str) -> None:
    problem = only(workspace.validate(with_secrets(f"      pip_index: {source}\n")).problems)
    column, start = BAD_SECRETS[source]
    assert (problem.line, problem.column) == (12, column), problem.message
    assert problem.message.startswith(start)


def test_a_bad_secret_id_is_reported_at_it(workspace: Workspace) -> None:
    problem = only(workspace.validate(with_secrets("      pip index: {env: T}\n")).problems)
    assert (problem.line, problem.column) == (12, 7)
    assert "secret ids are 1-64 letters, digits, '_', '.' or '-'" in problem.message


def test_a_symlink_out_of_the_workspace_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "token").write_text("x")
    os.symlink(outside / "token", workspace.root / "token")
    problem = only(workspace.validate(with_secrets("      t: {file: token}\n")).problems)
    assert "points outside the workspace" in problem.message


def test_a_secret_file_need_not_exist_when_the_file_is_validated(workspace: Workspace) -> None:
    # An earlier step of the job writes it; the run checks it (below).
    assert workspace.validate(with_secrets("      t: {file: later/token}\n")).valid


def spec_with(tmp_path: Path, **secrets: BuildSecret) -> BuildSpec:
    return BuildSpec(context=tmp_path, dockerfile=tmp_path / "Dockerfile", secrets=secrets)


def test_sources_that_exist_pass(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("value")
    spec = spec_with(tmp_path, a=BuildSecret(env="A_TOKEN"), b=BuildSecret(file=tmp_path / "token"))
    check_sources(spec, tmp_path, {"A_TOKEN": "value"})


def test_a_missing_environment_variable_is_refused_with_the_fix(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, pip_index=BuildSecret(env="PIP_TOKEN"))
    with pytest.raises(BuildSecretMissing) as raised:
        check_sources(spec, tmp_path, {"PIP_TOKEN": ""})
    assert raised.value.message == (
        "build secret 'pip_index' reads the environment variable PIP_TOKEN, which is not set "
        "(or empty)"
    )
    assert raised.value.hint is not None and "${{ secrets.PIP_TOKEN }}" in raised.value.hint


def test_a_missing_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, npmrc=BuildSecret(file=tmp_path / "secrets" / ".npmrc"))
    with pytest.raises(BuildSecretMissing) as raised:
        check_sources(spec, tmp_path, {})
    assert raised.value.message == (
        "build secret 'npmrc' names the file secrets/.npmrc, which does not exist"
    )


def test_a_file_turned_into_a_symlink_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "elsewhere").write_text("value")
    os.symlink(tmp_path / "elsewhere", workspace / "token")
    spec = spec_with(workspace, t=BuildSecret(file=workspace / "token"))
    with pytest.raises(BuildSecretMissing, match="points outside the workspace"):
        check_sources(spec, workspace, {})


@pytest.mark.parametrize(
    "variable",
    [
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "GITHUB_TOKEN",
        "AZURE_CLIENT_SECRET",
        "AZUREML_DEPLOY_REGISTRY_CREDENTIAL",
        "INPUT_GITHUB_TOKEN",
        "runner_temp",
    ],
)
def test_a_secret_may_not_read_the_jobs_credentials(
    workspace: Workspace, tmp_path: Path, variable: str
) -> None:
    """A pull request can change the deploy file: naming the runner's or our own variables
    would hand the job's credentials (the OIDC request token, the registry credential the
    docker CLI signs in with) to a build step it wrote."""
    problem = only(workspace.validate(with_secrets(f"      leak: {{env: {variable}}}\n")).problems)
    assert (problem.line, problem.column) == (12, 19)
    assert problem.message.startswith(
        f"image.build.secrets.leak.env names {variable}, a variable of the runner"
    )
    with pytest.raises(BuildSecretMissing, match="carries the job's credentials"):
        check_sources(
            spec_with(tmp_path, leak=BuildSecret(env=variable)), tmp_path, {variable: "x"}
        )
