"""Azure ML CLI (az ml) endpoint and deployment files as they are: every one of
Azure/azureml-examples' in tests/azml-examples/ is validated (it passes, or what stops it is
named at its line in the az ml file), and what each field becomes is checked against the deploy
file that says the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deployer.diagnostics import Problem, Severity
from deployer.errors import UsageError
from deployer.github.runner import problem_annotation
from deployer.spec import DeploySpec, validate_deploy_file
from deployer.spec.azml_files import GivenFiles, translate
from deployer.spec.azml_sdk import sdk_findings
from deployer.spec.model import CollectionData
from deployer.spec.source import load_document

EXAMPLES = Path(__file__).parents[1] / "azml-examples"
ONLINE = EXAMPLES / "cli" / "endpoints" / "online"
SAMPLE = ONLINE / "managed" / "sample"


def given(deployment: str, endpoint: str | None = None) -> GivenFiles:
    return GivenFiles(
        endpoint=ONLINE / endpoint if endpoint else None, deployment=ONLINE / deployment
    )


def check(files: GivenFiles, workspace: Path = EXAMPLES) -> tuple[list[Problem], DeploySpec | None]:
    report = validate_deploy_file(workspace / "no-deploy.yml", workspace=workspace, given=files)
    spec = report.deploy_file.base if report.deploy_file else None
    return list(report.problems), spec


def errors(problems: list[Problem]) -> list[tuple[str, int, int, str]]:
    return [
        (Path(p.file).name, p.line, p.column, p.message)
        for p in problems
        if p.severity is Severity.ERROR
    ]


def corpus_files() -> list[Path]:
    """The files az ml reads as an online endpoint or deployment: by their schema, or for the
    few without one, by their name."""
    found = []
    for path in sorted(ONLINE.rglob("*.y*ml")):
        text = path.read_text("utf-8")
        named = "endpoint" in path.name or "deployment" in path.name
        if ("azuremlschemas" in text and "Online" in text) or named:
            found.append(path)
    return found


# Every az ml online file of the corpus: None where it validates as it is, else where and what
# stops it (an error of az ml's own, or a field or a value the action does not take).
EXPECTED: dict[str, tuple[str, int, str] | None] = {
    "custom-container/tfserving/half-plus-two/tfserving-deployment.yml": (
        "tfserving-deployment.yml",
        6,
        "keys must be plain strings",  # `version: {{MODEL_VERSION}}`: a template, not YAML
    ),
    "custom-container/tfserving/half-plus-two/tfserving-endpoint.yml": None,
    "kubernetes/kubernetes-blue-deployment.yml": (
        "kubernetes-blue-deployment.yml",
        1,
        "this is an az ml kubernetes online deployment file",
    ),
    "kubernetes/kubernetes-endpoint.yml": (
        "kubernetes-endpoint.yml",
        1,
        "this is an az ml kubernetes online endpoint file",
    ),
    "kubernetes/kubernetes-green-deployment.yml": (
        "kubernetes-green-deployment.yml",
        1,
        "this is an az ml kubernetes online deployment file",
    ),
    "managed/keyvault/keyvault-deployment.yml": None,  # its `<ENDPOINT_NAME>` is only noted
    "managed/managed-identities/1-sai-create-endpoint.yml": None,
    "managed/managed-identities/1-uai-create-endpoint.yml": (
        "1-uai-create-endpoint.yml",
        7,
        "endpoint.identity.resource_id must be the ARM id of a user-assigned identity",
    ),
    "managed/managed-identities/2-sai-deployment.yml": None,  # with the sample's endpoint
    "managed/managed-identities/2-uai-deployment.yml": None,
    "managed/minimal/single-model-registered/deployment.yml": (
        "deployment.yml",
        3,
        "keys must be plain strings",  # `version: {{...}}` again
    ),
    "managed/openapi/deployment.yml": (
        "deployment.yml",
        7,
        "deployment.code_configuration.code names <CODE_DIR>",
    ),
    "managed/sample/blue-deployment-with-curated-env.yml": None,
    "managed/sample/blue-deployment-with-registered-assets.yml": None,
    "managed/sample/blue-deployment.yml": None,
    "managed/sample/endpoint.yml": None,
    "managed/sample/green-deployment-with-curated-env.yml": None,
    "managed/sample/green-deployment-with-registered-assets.yml": None,
    "managed/sample/green-deployment.yml": None,
    "managed/vnet/mlflow/blue-deployment-vnet.yml": None,
    "managed/vnet/mlflow/endpoint.yml": None,  # public_network_access: disabled, carried over
    "managed/vnet/sample/blue-deployment-vnet.yml": None,
    "managed/vnet/sample/endpoint.yml": None,  # public_network_access: disabled, carried over
    "ncd/create-endpoint.yaml": None,
    "ncd/lightgbm-deployment.yaml": None,
    "ncd/sklearn-deployment-with-script.yaml": None,
    "ncd/sklearn-deployment.yaml": None,
    "triton/single-model/create-managed-deployment.yaml": (
        "create-managed-deployment.yaml",
        8,  # Triton's no-code deployment (its models/ folder the example's script downloads)
        "deployment.model.type is triton_model with no environment: Azure ML serves such a "
        "model with Triton and no code, which azureml-deploy does not deploy yet",
    ),
    "triton/single-model/create-managed-endpoint.yaml": None,
}


def test_the_table_names_every_file_of_the_corpus() -> None:
    assert sorted(EXPECTED) == [path.relative_to(ONLINE).as_posix() for path in corpus_files()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_az_ml_file_validates_or_is_stopped_at_its_line(name: str) -> None:
    if "endpoint" in Path(name).name:
        files = given("managed/sample/blue-deployment.yml", endpoint=name)
    else:
        files = given(name, endpoint="managed/sample/endpoint.yml")
    problems, spec = check(files)
    expected = EXPECTED[name]
    if expected is None:
        assert errors(problems) == []
        assert spec is not None
        return
    file, line, text = expected
    assert spec is None
    assert any(
        (where, at) == (file, line) and text in message
        for where, at, _, message in errors(problems)
    ), errors(problems)


def test_the_sample_deployment_means_what_it_means_to_az_ml() -> None:
    problems, spec = check(
        given("managed/sample/blue-deployment.yml", "managed/sample/endpoint.yml")
    )
    assert spec is not None, problems
    assert spec.endpoint.name_template == "my-endpoint"
    assert spec.endpoint.auth_mode == "key"
    deployment = spec.deployment
    assert deployment.instance_type == "Standard_DS3_v2"
    assert deployment.instance_count == 1
    assert deployment.model is not None and deployment.model.path == ONLINE / "model-1" / "model"
    code = deployment.code_configuration
    assert code is not None and code.code == ONLINE / "model-1" / "onlinescoring"
    assert code.scoring_script == "score.py"
    environment = deployment.environment
    assert environment is not None
    assert environment.image == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    assert environment.conda_file == ONLINE / "model-1" / "environment" / "conda.yaml"
    # the deployment's name is the rollout's: said once, as a note at its line
    [note] = [p for p in problems if p.severity is Severity.NOTICE]
    assert (Path(note.file).name, note.line) == ("blue-deployment.yml", 2)
    assert note.message == "name is not used: the rollout names the deployment (blue, green)"


def test_an_environments_inference_config_is_the_deployments() -> None:
    problems, spec = check(given("managed/vnet/sample/blue-deployment-vnet.yml"))
    assert spec is not None, problems
    assert spec.endpoint.name_template == "placeholder-name"  # endpoint_name, nothing else names it
    config = spec.deployment.inference_config
    assert config is not None
    assert (config.scoring_route.port, config.scoring_route.path) == (5001, "/score")
    assert spec.deployment.egress_public_network_access == "disabled"


def test_public_network_access_disabled_is_carried_over() -> None:
    problems, spec = check(
        given("managed/vnet/sample/blue-deployment-vnet.yml", "managed/vnet/sample/endpoint.yml")
    )
    assert spec is not None, problems
    assert spec.endpoint.public_network_access == "disabled"


def test_a_user_assigned_identity_is_the_endpoints_identity(tmp_path: Path) -> None:
    (tmp_path / "endpoint.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
        "name: credit\nauth_mode: key\nidentity:\n  type: user_assigned\n"
        "  user_assigned_identities:\n"
        "    - resource_id: /subscriptions/0/resourceGroups/ml/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/puller\n"
        "traffic:\n  blue: 100\n"
    )
    write_deployment(tmp_path)
    problems, spec = check(
        GivenFiles(tmp_path / "endpoint.yml", tmp_path / "blue.yml"), workspace=tmp_path
    )
    assert spec is not None, problems
    assert spec.endpoint.identity.type == "user_assigned"
    assert spec.endpoint.identity.resource_id is not None
    assert spec.endpoint.identity.resource_id.endswith("/userAssignedIdentities/puller")
    [traffic] = [p for p in problems if "traffic" in p.message]
    assert (traffic.severity, traffic.line) == (Severity.NOTICE, 8)


def write_deployment(folder: Path, extra: str = "", name: str = "blue.yml") -> Path:
    (folder / "model").mkdir(exist_ok=True)
    (folder / "model" / "model.pkl").write_bytes(b"model")
    (folder / "code").mkdir(exist_ok=True)
    (folder / "code" / "score.py").write_text("def init(): pass\ndef run(data): return data\n")
    path = folder / name
    path.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
        "name: blue\nendpoint_name: credit\nmodel:\n  path: model/\n"
        "code_configuration:\n  code: code\n  scoring_script: score.py\n"
        "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
        "instance_type: Standard_DS3_v2\ninstance_count: 1\n" + extra
    )
    return path


def test_what_az_ml_refuses_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write_deployment(tmp_path)
    path.write_text(path.read_text().replace("instance_count: 1", "instance_count: one"))
    azml = load_document(path.read_bytes(), file="blue.yml").document
    assert azml is not None
    [refused] = sdk_findings(path, "deployment", azml, {})
    assert refused.problem().human("deploy.yml") == (
        "blue.yml:11:17: error: instance_count is refused by az ml: Not a valid integer."
    )
    # the deploy file's own check says it too, in its words: the mistake is said once
    problems, spec = check(GivenFiles(deployment=path), workspace=tmp_path)
    assert spec is None
    assert errors(problems) == [
        ("blue.yml", 11, 17, 'deployment.instance_count must be an integer (got "one")')
    ]


def test_a_field_the_action_does_not_take_is_named_at_its_line(tmp_path: Path) -> None:
    path = write_deployment(
        tmp_path,
        "data_collector:\n  collections:\n    model_inputs:\n      enabled: 'True'\n"
        "      client_id: 00000000-0000-0000-0000-000000000001\n",
    )
    problems, spec = check(GivenFiles(deployment=path), workspace=tmp_path)
    assert spec is None
    [(file, line, column, message)] = errors(problems)
    assert (file, line, column) == ("blue.yml", 16, 7)
    assert message.startswith(
        "data_collector.collections.model_inputs.client_id is an az ml deployment field "
        "azureml-deploy does"
    )
    assert "remove it, or deploy what needs it with az ml" in message


def test_a_data_collector_is_read_as_az_ml_reads_it(tmp_path: Path) -> None:
    path = write_deployment(
        tmp_path,
        "data_collector:\n  rolling_rate: Hour\n  sampling_rate: 0.25\n  collections:\n"
        "    request: {enabled: 'True'}\n    response: {enabled: 'TRUE'}\n"
        "    model_inputs:\n      enabled: 'False'\n      data:\n        name: inputs\n"
        "        path: azureml://datastores/workspaceblobstore/paths/mdc/inputs\n"
        "        version: '2'\n",
    )
    problems, spec = check(GivenFiles(deployment=path), workspace=tmp_path)
    assert errors(problems) == []
    assert spec is not None
    collector = spec.deployment.data_collector
    assert collector is not None
    assert (collector.rolling_rate, collector.sampling_rate) == ("hour", 0.25)
    assert collector.enabled == ("request", "response")
    [*_, inputs] = collector.collections
    assert inputs.data == CollectionData(
        name="inputs", path="azureml://datastores/workspaceblobstore/paths/mdc/inputs", version="2"
    )


def test_what_az_ml_refuses_in_a_data_collector_is_said_at_its_line(tmp_path: Path) -> None:
    path = write_deployment(
        tmp_path,
        "data_collector:\n  sampling_rate: 1.5\n  collections:\n    request: {enabled: 'True'}\n",
    )
    problems, spec = check(GivenFiles(deployment=path), workspace=tmp_path)
    assert spec is None
    [(file, line, _, message)] = errors(problems)
    assert (file, line) == ("blue.yml", 13)
    assert message.startswith("deployment.data_collector.sampling_rate must be <= 1")


def test_a_field_az_ml_does_not_know_is_said_once(tmp_path: Path) -> None:
    path = write_deployment(tmp_path, "instance_typo: Standard_DS3_v2\n")
    problems, _ = check(GivenFiles(deployment=path), workspace=tmp_path)
    assert errors(problems) == [("blue.yml", 12, 1, "instance_typo is not a field az ml knows")]


def test_a_deploy_file_names_az_ml_files_overrides_them_and_adds_the_rollout(
    tmp_path: Path,
) -> None:
    azml = tmp_path / "azml"
    azml.mkdir()
    write_deployment(azml)
    write_deployment(azml, name="prod.yml", extra="environment_variables: {TIER: prod}\n")
    (tmp_path / "deploy.yml").write_text(
        "version: 1\n"
        "deployment:\n  file: azml/blue.yml\n  instance_count: 2\n"
        "rollout: {strategy: canary, canary_steps: [10, 100]}\n"
        "environments:\n"
        "  production:\n    deployment: {file: azml/prod.yml}\n"
        "  preview:\n    endpoint: {name: 'credit-pr{pr}'}\n    ttl_hours: 24\n"
    )
    report = validate_deploy_file(tmp_path / "deploy.yml", workspace=tmp_path)
    assert report.deploy_file is not None, report.problems
    base = report.deploy_file.base
    assert base.endpoint.name_template == "credit"  # the deployment file's endpoint_name
    assert base.deployment.instance_count == 2  # the deploy file's key over the file's
    assert base.deployment.model is not None
    assert base.deployment.model.path == azml / "model"  # relative to the az ml file
    assert base.rollout.strategy == "canary"
    production = report.deploy_file.environments["production"]
    assert production.deployment.instance_count == 1  # its own file, not the base's override
    assert dict(production.deployment.environment_variables) == {"TIER": "prod"}
    assert report.deploy_file.environments["preview"].endpoint.name_template == "credit-pr{pr}"


def test_a_file_outside_the_workspace_is_refused_where_it_is_named(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    write_deployment(tmp_path)
    (workspace / "deploy.yml").write_text("version: 1\ndeployment:\n  file: ../blue.yml\n")
    report = validate_deploy_file(workspace / "deploy.yml", workspace=workspace)
    assert report.deploy_file is None
    [problem] = report.problems
    assert (problem.file, problem.line, problem.column) == ("", 3, 9)
    assert "outside the workspace" in problem.message


def test_an_endpoint_file_alone_is_not_a_deployment(tmp_path: Path) -> None:
    (tmp_path / "endpoint.yml").write_text("name: credit\n")
    with pytest.raises(UsageError, match="endpoint file alone says nothing to deploy"):
        check(GivenFiles(endpoint=tmp_path / "endpoint.yml"), workspace=tmp_path)


def test_problems_in_an_az_ml_file_are_annotated_there() -> None:
    problem = Problem(6, 13, Severity.ERROR, "bad", "azml/blue.yml")
    assert problem.human("deploy.yml") == "azml/blue.yml:6:13: error: bad"
    annotation = problem_annotation(problem, "deploy.yml")
    assert annotation.startswith("::error file=azml/blue.yml,line=6,col=13")


def test_the_whole_file_given_as_the_deploy_file_says_how_to_give_it() -> None:
    report = validate_deploy_file(SAMPLE / "blue-deployment.yml", workspace=EXAMPLES)
    [only] = report.problems
    assert (only.line, only.column) == (1, 1)
    assert only.message.startswith(
        "this is an Azure ML CLI (az ml) managed online deployment file, not a deploy file: "
        "give it as --deployment-file"
    )
    assert "`deployment: {file: …}`" in only.message


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


def test_files_outside_the_workspace_are_not_opened_to_check_them(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    (tmp_path / "conda.yml").write_text("{{ not: yaml")  # az ml's loader would say so
    path = write_deployment(workspace)
    path.write_text(
        path.read_text().replace(
            "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n",
            "environment:\n  image: mcr.microsoft.com/azureml/minimal-py312-inference:latest\n"
            "  conda_file: ../conda.yml\n",
        )
    )
    problems, spec = check(GivenFiles(deployment=path), workspace=workspace)
    assert spec is None
    assert [message for *_, message in errors(problems)] == [
        "deployment.environment.conda_file points outside the workspace (../conda.yml)"
    ]
    azml = load_document(path.read_bytes(), file="blue.yml").document
    assert azml is not None
    assert translate(azml, path, "deployment", workspace, workspace).refused == []
    # where it is inside, az ml's loader reads it, and says what it thinks of it
    opened = translate(azml, path, "deployment", workspace, tmp_path).refused
    assert [finding.path for finding in opened] == [("environment",)]


def test_a_given_file_is_the_deploy_files_deployment(tmp_path: Path) -> None:
    write_deployment(tmp_path)
    write_deployment(tmp_path, name="green.yml", extra="environment_variables: {COLOR: green}\n")
    (tmp_path / "deploy.yml").write_text(
        "version: 1\nendpoint: {name: credit}\n"
        "deployment: {file: blue.yml, instance_count: 3}\nrollout: {strategy: replace}\n"
    )
    files = GivenFiles(deployment=tmp_path / "green.yml")
    report = validate_deploy_file(tmp_path / "deploy.yml", workspace=tmp_path, given=files)
    assert report.deploy_file is not None, report.problems
    deployment = report.deploy_file.base.deployment
    assert dict(deployment.environment_variables) == {"COLOR": "green"}  # the given file's
    assert deployment.instance_count == 3  # the deploy file's own key, over it
    assert report.deploy_file.base.rollout.strategy == "replace"


def test_a_file_naming_az_mls_older_schema_host_is_known() -> None:
    tfserving = (
        ONLINE / "custom-container" / "tfserving" / "half-plus-two" / "tfserving-endpoint.yml"
    )
    assert "azuremlsdk2.blob.core.windows.net" in tfserving.read_text()
    [only] = validate_deploy_file(tfserving, workspace=EXAMPLES).problems
    assert only.message.startswith("this is an Azure ML CLI (az ml) managed online endpoint file")


def test_a_symlink_out_of_the_workspace_and_a_fifo_are_not_read(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    write_deployment(tmp_path)
    (workspace / "blue.yml").symlink_to(tmp_path / "blue.yml")
    os.mkfifo(workspace / "pipe.yml")  # reading it would block
    for name, said in (("blue.yml", "is outside the workspace"), ("pipe.yml", "is not a file")):
        (workspace / "deploy.yml").write_text(f"version: 1\ndeployment: {{file: {name}}}\n")
        [problem] = validate_deploy_file(workspace / "deploy.yml", workspace=workspace).problems
        assert said in problem.message
