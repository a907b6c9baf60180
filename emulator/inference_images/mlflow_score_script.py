"""The scoring script of Azure ML's no-code MLflow deployments, written for the local
mlflow-py312-inference image (/var/mlflow_resources/mlflow_score_script.py).

Its behaviour follows Azure's own script, Azure/azureml-assets
assets/inference/environments/mlflow-py312-inference/context/mlflow_score_script.py: the model
is the folder MLFLOW_MODEL_FOLDER under AZUREML_MODEL_DIR, loaded as a pyfunc with the real
mlflow; run() is decorated with inference-schema, so the inference server passes the request
body's `input_data` (required) and `params` (optional); `input_data` is read the way Azure reads
it for models that are not LLMs (a list is a tensor, a dict with `columns`, `index` and `data`
a pandas DataFrame in the split orientation, any other dict named tensors); the answer is the
prediction made JSON by mlflow's own `_get_jsonable_obj` (a DataFrame as records).
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType
from inference_schema.schema_decorators import input_schema
from mlflow.models import Model
from mlflow.pyfunc import PyFuncModel, load_model
from mlflow.pyfunc.scoring_server import _get_jsonable_obj

_logger = logging.getLogger(__name__)
model: PyFuncModel | None = None


class _AsSent(AbstractParameterType):
    """A parameter passed to run() as the request carried it (run() reads it itself)."""

    def __init__(self) -> None:
        super().__init__(None)

    def deserialize_input(self, input_data: Any) -> Any:
        return input_data

    def input_to_swagger(self) -> dict[str, Any]:
        return {"type": "object", "example": {}}


def model_path() -> str:
    folder = os.environ.get("MLFLOW_MODEL_FOLDER", "")
    return str(Path(os.environ["AZUREML_MODEL_DIR"]) / folder)


def init() -> None:
    global model  # noqa: PLW0603 - the inference server's contract: init() loads, run() uses
    path = model_path()
    flavors = ", ".join(Model.load(path).flavors)
    _logger.info("loading the MLflow model at %s (flavors: %s)", path, flavors)
    model = load_model(path)


def model_input(input_data: Any) -> Any:
    """What Azure's script makes of `input_data` for a model that is not an LLM."""
    if isinstance(input_data, str):
        input_data = json.loads(input_data)
    if isinstance(input_data, dict) and "input_data" in input_data:
        input_data = input_data["input_data"]
    if isinstance(input_data, list):
        return np.asarray(input_data)
    if isinstance(input_data, dict) and {"columns", "index", "data"} <= input_data.keys():
        # As Azure's script reads it: pandas' own split orientation, the JSON's types kept.
        return pd.read_json(io.StringIO(json.dumps(input_data)), orient="split", dtype=False)
    if isinstance(input_data, dict):
        return {name: np.asarray(value) for name, value in input_data.items()}
    return input_data


@input_schema("input_data", _AsSent())
@input_schema("params", _AsSent(), optional=True)
def run(input_data: Any, params: dict[str, Any] | None = None) -> Any:
    assert model is not None, "init() has not loaded the model"
    data = model_input(input_data)
    if params is not None and "params" in inspect.signature(model.predict).parameters:
        result = model.predict(data, params=params)
    else:
        result = model.predict(data)
    return _get_jsonable_obj(result, pandas_orient="records")
