"""azureml-deploy: ship a model server to an Azure ML managed online endpoint."""

__version__ = "0.1.0"
