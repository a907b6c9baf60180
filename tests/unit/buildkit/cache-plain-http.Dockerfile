FROM azureml-deploy/python-base:bookworm
RUN echo built
