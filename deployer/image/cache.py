"""Which build cache a run imports from the registry and which it writes.

A run for a pull request builds code the pull request wrote, and an inline cache maps build
steps to layers: a cache a pull request wrote, imported by a production build, would hand it
the pull request's layers for the steps they claim (cache poisoning, CWE-349; CodeQL's
actions/cache-poisoning queries). So, as GitHub scopes its own Actions cache ("Restrictions for
accessing a cache": a run restores caches of its own branch or the default branch, and a pull
request's cannot reach its base's scope to write), a pull request's run writes
`buildcache-pr<N>` and reads that and `buildcache`; every other run reads and writes
`buildcache` only.
"""

from __future__ import annotations

from dataclasses import dataclass

CACHE_TAG = "buildcache"


@dataclass(frozen=True)
class CacheScope:
    write: str
    read: tuple[str, ...]  # the tags to import from, most specific first


def cache_scope(pr_number: int | None) -> CacheScope:
    if pr_number is None:
        return CacheScope(CACHE_TAG, (CACHE_TAG,))
    own = f"{CACHE_TAG}-pr{pr_number}"
    return CacheScope(own, (own, CACHE_TAG))


def is_cache_tag(tag: str) -> bool:
    return tag == CACHE_TAG or tag.startswith(f"{CACHE_TAG}-")
