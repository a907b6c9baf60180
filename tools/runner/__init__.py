"""The GitHub Actions runner, played: its reading of a step's output (log.py), a Docker action run
as it runs one (action.py), and workflows run job by job (workflow.py, expressions.py)."""
