FROM azureml-deploy/python-base:bookworm
COPY --link app.txt /a
