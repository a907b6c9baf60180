# syntax=docker/dockerfile:1
FROM azureml-deploy/python-base:bookworm
RUN echo hi
