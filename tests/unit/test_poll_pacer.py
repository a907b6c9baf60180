"""The one poller's pacing: quick at first, slower as an operation ages, a Retry-After wins,
and every operation of the run shares one budget of polls."""

from __future__ import annotations

import itertools

import pytest

from deployer.azure.operation import PollPacer


def test_the_interval_grows_with_the_operations_age_up_to_a_cap() -> None:
    pacer = PollPacer()
    assert pacer.interval(0) == pacer.interval(20) == 1.0
    assert pacer.interval(100) == 5.0
    assert pacer.interval(3600) == 10.0


def test_a_retry_after_the_service_sends_wins() -> None:
    pacer = PollPacer()
    assert pacer.delay(age=600, retry_after=2) == pytest.approx(2, abs=0.05)


def test_a_hundred_operations_share_one_budget_of_polls() -> None:
    pacer = PollPacer(burst=40, per_second=8)
    delays = sorted(pacer.delay(age=0, retry_after=None) for _ in range(100))
    assert delays[39] == pytest.approx(1.0, abs=0.05)  # a burst goes at once
    # the other 60 follow at 8 a second: the last 60/8 s later
    assert delays[-1] == pytest.approx(1.0 + 60 / 8, abs=0.1)
    assert all(b - a <= 1 / 8 + 0.01 for a, b in itertools.pairwise(delays))


def test_throttled_polls_back_off_with_jitter_never_sooner_than_retry_after() -> None:
    pacer = PollPacer()
    waits = [pacer.backoff(attempt, retry_after=3) for attempt in (1, 1, 1, 1, 1, 1)]
    assert all(3 <= wait <= 4.5 for wait in waits)
    assert len(set(waits)) > 1  # jitter: waiting polls do not all come back at once
    assert 8 <= pacer.backoff(4, retry_after=None) <= 12
    assert pacer.backoff(20, retry_after=None) <= 10 * 1.5
