"""A scoring script in the shape of Azure/azureml-examples cli/endpoints/online/model-1: init()
loads the model from AZUREML_MODEL_DIR, run() answers a JSON request {"data": [[...], ...]}."""

import json
import logging
import os

import numpy

model = None


def init():
    global model  # noqa: PLW0603 - how Azure ML scoring scripts share the model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "linear.json")
    with open(path) as f:
        model = json.load(f)
    logging.info("Init complete")


def run(raw_data):
    data = numpy.array(json.loads(raw_data)["data"], dtype=float)
    prediction = data @ numpy.array(model["coefficients"]) + model["intercept"]
    return prediction.tolist()
