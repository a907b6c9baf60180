"""GitHub: the runner's I/O (runner.py) and OIDC ID tokens (oidc.py)."""
