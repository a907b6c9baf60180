"""A pull request's run never writes the cache a release reads (deployer/image/cache.py)."""

from __future__ import annotations

from deployer.image.cache import cache_scope, is_cache_tag


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
