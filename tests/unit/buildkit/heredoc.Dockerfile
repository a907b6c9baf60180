FROM azureml-deploy/python-base:bookworm
RUN <<EOF
echo hi
EOF
