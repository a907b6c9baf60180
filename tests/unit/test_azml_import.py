"""`azureml-deploy import` of real az ml files (tests/azml-examples): the deploy file it
writes validates, and says the same deployment as the az ml files given as they are; every
field has a comment saying where it came from or why it was not carried over."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from deployer import cli
from deployer.action import arguments
from deployer.spec import DeploySpec, validate_deploy_file
from deployer.spec.azml_files import GivenFiles

EXAMPLES = Path(__file__).parents[1] / "azml-examples"


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding the corpus, as the working directory."""
    shutil.copytree(EXAMPLES, tmp_path / "repo")
    (tmp_path / "repo" / ".git").mkdir()
    folder = tmp_path / "repo" / "cli" / "endpoints" / "online"
    monkeypatch.chdir(folder)
    return folder


def said(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed: its log (stderr) and its result (stdout)."""
    captured = capsys.readouterr()
    return captured.err + captured.out


def without_source(spec: DeploySpec) -> DeploySpec:
    return dataclasses.replace(spec, source=Path())


def given_as_they_are(endpoint: str | None, deployment: str) -> DeploySpec:
    files = GivenFiles.of(endpoint, deployment)
    report = validate_deploy_file(Path("none.yml"), workspace=Path.cwd(), given=files)
    assert report.deploy_file is not None, report.problems
    return report.deploy_file.base


def imported(output: str) -> DeploySpec:
    report = validate_deploy_file(Path(output), workspace=Path.cwd())
    assert report.deploy_file is not None, report.problems
    return report.deploy_file.base


@pytest.mark.parametrize(
    ("endpoint", "deployment"),
    [
        ("managed/sample/endpoint.yml", "managed/sample/blue-deployment.yml"),
        (
            "managed/sample/endpoint.yml",
            "managed/sample/green-deployment-with-registered-assets.yml",
        ),
        (None, "managed/vnet/sample/blue-deployment-vnet.yml"),  # environment.inference_config
        ("ncd/create-endpoint.yaml", "ncd/sklearn-deployment-with-script.yaml"),
        (
            "managed/managed-identities/1-sai-create-endpoint.yml",
            "managed/managed-identities/2-sai-deployment.yml",
        ),
    ],
)
def test_the_written_deploy_file_says_the_same_deployment(
    online: Path, endpoint: str | None, deployment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [file for file in (endpoint, deployment) if file]
    assert cli.main(["import", *files, "--output", "deploy.yml"], {}) == 0
    out = said(capsys)
    assert "deploy.yml is valid" in out
    # the same endpoint, deployment, model, code and environment, and the same rollout
    expected = given_as_they_are(endpoint, deployment)
    assert without_source(imported("deploy.yml")) == without_source(expected)


def test_every_field_says_where_it_came_from(online: Path) -> None:
    assert cli.main(["import", "managed/vnet/sample/blue-deployment-vnet.yml"], {}) == 0
    text = (online / "deploy.yml").read_text()
    assert "  # managed/vnet/sample/blue-deployment-vnet.yml:3 endpoint_name\n" in text
    assert "  name: placeholder-name\n" in text
    assert (
        "  # managed/vnet/sample/blue-deployment-vnet.yml:12 az ml's environment.inference_config\n"
        "  inference_config:\n"
    ) in text
    assert "    path: managed/vnet/sample/model/sklearn_regression_model.pkl\n" in text
    assert (
        "  # managed/vnet/sample/blue-deployment-vnet.yml:2 name is not used: the rollout names "
        "the deployment (blue, green)\n"
    ) in text


def test_what_is_not_carried_over_is_said_and_left_out(
    online: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = online / "managed" / "sample" / "blue-deployment.yml"
    source.write_text(
        source.read_text()
        + "data_collector:\n  collections:\n    model_inputs: {enabled: 'True'}\n"
        + "  request_logging: {capture_headers: [x-ms-client-request-id]}\n"
    )
    assert cli.main(["import", "managed/sample/blue-deployment.yml", "-o", "d.yml"], {}) == 0
    out = said(capsys)
    assert "1 not (each said in a comment at its place)" in out
    assert (
        "not carried over: managed/sample/blue-deployment.yml:17 "
        "data_collector.request_logging is an az ml" in out
    )
    text = (online / "d.yml").read_text()
    assert "request_logging" not in text.replace("data_collector.request_logging is an az ml", "")
    assert "model_inputs" in text


def test_a_data_collector_is_carried_over_with_its_origin(
    online: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = online / "managed" / "sample" / "blue-deployment.yml"
    source.write_text(
        source.read_text() + "data_collector:\n  rolling_rate: Day\n  collections:\n"
        "    request: {enabled: 'True'}\n    response: {enabled: 'True'}\n"
    )
    assert cli.main(["import", "managed/sample/blue-deployment.yml", "-o", "d.yml"], {}) == 0
    said(capsys)
    text = (online / "d.yml").read_text()
    assert "  # managed/sample/blue-deployment.yml:14 data_collector\n  data_collector:\n" in text
    assert "    rolling_rate: day\n" in text
    assert "      request:\n        enabled: true\n" in text
    assert cli.main(["validate", "--config", "d.yml"], {}) == 0
    assert "collects request, response (100% of requests, by day)" in said(capsys)


def test_an_existing_deploy_file_is_not_replaced_unless_asked(
    online: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (online / "deploy.yml").write_text("keep me\n")
    assert cli.main(["import", "managed/sample/blue-deployment.yml"], {}) == 2
    assert "deploy.yml already exists" in said(capsys)
    assert (online / "deploy.yml").read_text() == "keep me\n"
    assert cli.main(["import", "managed/sample/blue-deployment.yml", "--force"], {}) == 0


def test_a_file_az_ml_refuses_writes_nothing(
    online: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", "managed/minimal/single-model-registered/deployment.yml"], {}) == 1
    out = said(capsys)
    assert "deployment.yml:3:17: error: keys must be plain strings" in out
    assert not (online / "deploy.yml").exists()


def test_kubernetes_and_lone_endpoints_are_refused(
    online: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", "kubernetes/kubernetes-blue-deployment.yml"], {}) == 2
    assert "azureml-deploy deploys to managed online endpoints only" in said(capsys)
    assert cli.main(["import", "managed/sample/endpoint.yml"], {}) == 2
    assert "give one az ml deployment file" in said(capsys)


def test_the_action_imports_its_file_inputs_into_its_config() -> None:
    environ = {
        "INPUT_COMMAND": "import",
        "INPUT_ENDPOINT-FILE": "azml/endpoint.yml",
        "INPUT_DEPLOYMENT-FILE": "azml/blue.yml",
        "INPUT_CONFIG": "deploy/production.yml",
    }
    assert arguments(environ) == [
        "import",
        "azml/endpoint.yml",
        "azml/blue.yml",
        "--output",
        "deploy/production.yml",
    ]
    deploy = arguments({"INPUT_COMMAND": "deploy", "INPUT_DEPLOYMENT-FILE": "azml/blue.yml"})
    assert deploy[:5] == ["deploy", "--config", "deploy.yml", "--deployment-file", "azml/blue.yml"]


def test_the_deploy_file_is_written_only_inside_the_workspace(
    online: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = online.parents[3] / "deploy.yml"  # beside the repository
    args = ["import", "managed/sample/blue-deployment.yml", "--output", str(outside)]
    assert cli.main(args, {}) == 2
    assert "is outside the workspace" in said(capsys)
    assert not outside.exists()


def test_a_file_name_cannot_break_out_of_its_comment(online: Path) -> None:
    odd = online / "managed" / "sample" / "blue\nsmoke_test: {request: x}\n#.yml"
    odd.write_bytes((online / "managed" / "sample" / "blue-deployment.yml").read_bytes())
    assert cli.main(["import", str(odd.relative_to(online))], {}) == 0
    written = (online / "deploy.yml").read_text()
    assert "\nsmoke_test:" not in written  # the name stays inside its comment lines
