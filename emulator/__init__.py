"""A local, faithful stand-in for the Azure services azureml-deploy talks to.

Entra ID, a GitHub OIDC issuer, ARM with the Azure ML online-endpoint control plane, and an admin
API for faults and timing; each on its own 127.0.0.1 HTTPS port. The real `azure-ai-ml` and
`azure-identity` SDKs talk to it unmodified. Start it with `python -m emulator up`.

Nothing in `deployer/` imports this package: the emulator is reached over the network only.
"""

__version__ = "0.1.0"
