from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI replays the same examples every run (a red build must be reproducible); a developer's
# run explores new ones. `HYPOTHESIS_PROFILE=thorough` explores many more.
settings.register_profile(
    "ci", derandomize=True, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=150, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
