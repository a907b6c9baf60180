"""The examples users copy say what they deploy and agree with themselves: each is the shape
the README says it is, and its smoke test's request fits its model and its answer fits the
response schema (the deploys themselves: tests/action/test_workflows.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from deployer.spec import load_deploy_spec
from deployer.spec.model import DeploySpec, ModelType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def spec(name: str, environment: str | None = None) -> DeploySpec:
    return load_deploy_spec(EXAMPLES / name / "deploy.yml", environment, workspace=EXAMPLES.parent)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def answers(name: str, answer: object) -> bool:
    schema = read_json(EXAMPLES / name / "tests" / "response.schema.json")
    return Draft202012Validator(schema).is_valid(answer)


def test_credit_risk_is_a_custom_container() -> None:
    deploy = spec("credit-risk")
    assert deploy.image.given
    assert deploy.deployment.environment is None and deploy.deployment.model is None


def test_scoring_script_is_a_local_model_with_its_script_and_a_conda_environment() -> None:
    deployment = spec("scoring-script").deployment
    assert not spec("scoring-script").image.given
    assert (
        deployment.model is not None and deployment.model.path == EXAMPLES / "scoring-script/model"
    )
    assert deployment.code_configuration is not None
    assert deployment.code_configuration.scoring_script == "score.py"
    assert deployment.environment is not None
    assert deployment.environment.conda_file is not None
    assert spec("scoring-script", "preview").endpoint.render_name({"pr": "7"}) == (
        "scoring-script-pr7"
    )


def test_the_scoring_script_examples_request_fits_its_model_and_schema() -> None:
    """score.py's run(): rows @ coefficients + intercept, one number per row."""
    folder = EXAMPLES / "scoring-script"
    model = read_json(folder / "model" / "linear.json")
    rows = read_json(folder / "tests" / "sample-request.json")["data"]
    assert all(len(row) == len(model["coefficients"]) for row in rows)
    answer = [
        sum(c * x for c, x in zip(model["coefficients"], row, strict=True)) + model["intercept"]
        for row in rows
    ]
    assert answer == [14.5, 32.5]
    assert answers("scoring-script", answer)
    assert not answers("scoring-script", {"predictions": answer})


def test_mlflow_no_code_has_no_environment_and_no_code() -> None:
    deployment = spec("mlflow-no-code").deployment
    assert not spec("mlflow-no-code").image.given
    assert deployment.model is not None and deployment.model.type is ModelType.MLFLOW
    assert deployment.environment is None and deployment.code_configuration is None


def test_the_mlflow_examples_request_is_azures_split_input_of_the_signature() -> None:
    folder = EXAMPLES / "mlflow-no-code"
    request = read_json(folder / "tests" / "sample-request.json")
    assert set(request) == {"input_data"}
    split = request["input_data"]
    assert set(split) == {"columns", "index", "data"}
    mlmodel = yaml.safe_load((folder / "model" / "MLmodel").read_text("utf-8"))
    signature = json.loads(mlmodel["signature"]["inputs"])
    assert split["columns"] == [column["name"] for column in signature]
    assert len(split["index"]) == len(split["data"])
    assert all(len(row) == len(split["columns"]) for row in split["data"])
    assert answers("mlflow-no-code", [6.5])  # the model: a + 2b + 3c + 0.5
