"""A pull request's run never writes the cache a release reads (deployer/image/cache.py); which
engines pull the cache image before the build (deployer/image/cache_pull.py)."""

from __future__ import annotations

import pytest

from deployer.image.cache import cache_scope, is_cache_tag
from deployer.image.cache_pull import needs_pull


def test_a_release_reads_and_writes_only_the_trusted_cache() -> None:
    scope = cache_scope(None)
    assert (scope.write, scope.read) == ("buildcache", ("buildcache",))


def test_a_pull_request_writes_its_own_and_reads_its_own_then_the_trusted_one() -> None:
    scope = cache_scope(42)
    assert scope.write == "buildcache-pr42"
    assert scope.read == ("buildcache-pr42", "buildcache")
    assert "buildcache-pr41" not in scope.read


def test_cache_tags_are_told_from_image_tags() -> None:
    assert is_cache_tag("buildcache") and is_cache_tag("buildcache-pr7")
    assert not is_cache_tag("3f2a9c1-5d41402a") and not is_cache_tag("buildcaches")


@pytest.mark.parametrize(
    ("engine", "pulled"),
    [
        ("20.10.24+dfsg1", True),  # BuildKit 0.8: a registry import loses its layers (#1992)
        ("26.1.4", True),
        ("27.0.1", False),  # BuildKit 0.14 and newer keep them (moby/buildkit#4796)
        ("28.0.4", False),  # GitHub's hosted runners (actions/runner-images)
        ("unknown", False),
    ],
)
def test_engines_before_27_pull_the_cache_image_before_the_build(engine: str, pulled: bool) -> None:
    assert needs_pull(engine) is pulled
