"""The rate limit holds across a window boundary (the cache is the test settings' own)."""

from django.core.cache import cache

from saleor_personalization.graphql import throttle


def test_no_burst_of_twice_the_limit_across_a_window_boundary(monkeypatch):
    cache.clear()
    clock = [600.0 + 59.0]  # one second before a window ends
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    assert [throttle.allow("client", 3) for _ in range(3)] == [True, True, True]
    clock[0] = 600.0 + 61.0  # one second into the next window
    assert throttle.allow("client", 3) is False
    clock[0] = 600.0 + 60.0 + 59.0  # the earlier calls have almost left the window
    assert throttle.allow("client", 3) is True
    assert throttle.allow("other", 3) is True
