FROM azureml-deploy/python-base:bookworm
RUN true
