"""The scoring script Azure ML's inference server runs (azureml-inference-server-http).

init() runs once when the container starts: load the model here. AZUREML_MODEL_DIR is where
Azure ML mounts the deployment's model; the folder named by `deployment.model` in deploy.yml
(model/) is inside it. run() answers each POST to the scoring URI: it gets the request body as
text and returns what is sent back as JSON.

The model is a linear one kept as JSON (model/linear.json), so that this example needs only
numpy; load a pickled scikit-learn model with joblib the same way.
"""

import json
import logging
import os
from pathlib import Path

import numpy

model = None


def init() -> None:
    global model  # noqa: PLW0603 - how Azure ML scoring scripts keep the model between requests
    path = Path(os.environ["AZUREML_MODEL_DIR"]) / "model" / "linear.json"
    model = json.loads(path.read_text("utf-8"))
    logging.info("Init complete")


def run(raw_data: str) -> list[float]:
    """{"data": [[x1, x2, x3], ...]} -> one prediction per row."""
    data = numpy.array(json.loads(raw_data)["data"], dtype=float)
    prediction = data @ numpy.array(model["coefficients"]) + model["intercept"]
    return prediction.tolist()
