"""The attacker suite: each test is an attack a pull request's author (or a hostile model
server, or a hostile Azure answer) can make, and what the action must do instead. The
end-to-end ones use the e2e tests' `app`, so every run is checked afterwards with the runner's
rules and searched for secrets (tools/checks.py)."""

from __future__ import annotations

from tests.e2e.conftest import app

__all__ = ["app"]
