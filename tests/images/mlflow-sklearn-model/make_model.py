"""A scikit-learn model saved with the real mlflow: y = a + 2b + 3c + 0.5."""

import sys

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

X = pd.DataFrame(
    {"a": [0.0, 1.0, 0.0, 0.0, 1.0], "b": [0.0, 0.0, 1.0, 0.0, 1.0], "c": [0.0, 0.0, 0.0, 1.0, 1.0]}
)
y = X["a"] + 2 * X["b"] + 3 * X["c"] + 0.5
model = LinearRegression().fit(X, y)
mlflow.sklearn.save_model(
    model,
    sys.argv[1],
    signature=infer_signature(X, model.predict(X)),
    input_example=X.head(2),
    serialization_format="cloudpickle",
    pip_requirements=[
        f"mlflow-skinny=={mlflow.__version__}",
        "cloudpickle==3.1.3",
        "pandas==3.1.1",
        "scikit-learn==1.9.1",
    ],
)
