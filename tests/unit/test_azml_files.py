"""An az ml endpoint or deployment file given where the deploy file goes (real files from
Azure/azureml-examples, tests/unit/azml/): `validate` says what the file is and what to write
instead, in one error, and names each field the deploy file has no place for at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.diagnostics import Problem
from deployer.spec import validate_deploy_file

CORPUS = Path(__file__).parent / "azml"


def problems(name: str) -> list[Problem]:
    report = validate_deploy_file(CORPUS / name, workspace=CORPUS)
    assert report.deploy_file is None  # refused: nothing would be deployed
    return list(report.problems)


def test_the_sample_deployment_is_named_with_the_deploy_file_that_says_the_same() -> None:
    [only] = problems("sample-blue-deployment.yml")
    assert (only.line, only.column) == (1, 1)
    assert only.message.startswith(
        "this is an Azure ML CLI (az ml) managed online deployment file, not a deploy file"
    )
    assert (
        "`version: 1`, `endpoint: {name: my-endpoint}`, `deployment: {model: …, "
        "code_configuration: …, environment: …, instance_type: …, instance_count: …}`"
        in only.message
    )
    assert "not a known key" not in only.message


def test_the_sample_endpoint_maps_to_the_endpoint_section() -> None:
    [only] = problems("sample-endpoint.yml")
    assert "managed online endpoint file" in only.message
    assert "`endpoint: {name: my-endpoint, auth_mode: …}`" in only.message


def test_app_insights_and_environment_variables_have_their_places() -> None:
    found = problems("app-insights-deployment.yml")
    assert "`deployment: {app_insights_enabled: …, model: …," in found[0].message
    assert len(found) == 1  # every field of this one has its place


def test_a_kubernetes_deployment_is_refused_for_what_it_is() -> None:
    [only] = problems("kubernetes-blue-deployment.yml")
    assert "kubernetes online deployment file" in only.message
    assert "managed online endpoints only" in only.message


def test_a_deployment_without_schema_is_known_by_endpoint_name(tmp_path: Path) -> None:
    (tmp_path / "blue.yml").write_text(
        "name: blue\nendpoint_name: credit\nmodel: azureml:credit:3\n"
        "data_collector:\n  collections: {}\ninstance_type: Standard_DS3_v2\n"
    )
    found = validate_deploy_file(tmp_path / "blue.yml", workspace=tmp_path).problems
    assert "`endpoint: {name: credit}`, `deployment: {model: …, instance_type: …}`" in (
        found[0].message
    )
    assert (found[1].line, found[1].column) == (4, 1)
    assert found[1].message.startswith(
        "data_collector: azureml-deploy has no place for this az ml deployment field yet"
    )


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nendpoint: {name: e}\ndeployment: {instance_type: Standard_DS3_v2}\n",
        "endpoint_name: e\nversion: 1\n",  # a deploy file with a stray key stays one
    ],
)
def test_a_deploy_file_is_never_taken_for_an_az_ml_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "deploy.yml").write_text(text)
    found = validate_deploy_file(tmp_path / "deploy.yml", workspace=tmp_path).problems
    assert not any("az ml" in problem.message for problem in found)
