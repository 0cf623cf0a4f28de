"""A sliding-window counter per client in Django's cache (Redis in Saleor).

Two fixed buckets, the previous one weighted by how much of it still lies inside the
window: no burst of twice the limit across a bucket boundary, two cache keys a client.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def allow(client_key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one call; False once ``client_key`` made more than ``limit`` in the window.

    A cache failure lets the call through: tracking must not break because Redis
    hiccupped, and the limit protects the log, not money.
    """
    now = time.time()
    bucket = int(now // window_seconds)
    key = f"sp:rate:{client_key}:{bucket}"
    try:
        cache.add(key, 0, timeout=window_seconds * 2)
        current = cache.incr(key)
        previous = cache.get(f"sp:rate:{client_key}:{bucket - 1}") or 0
        still_inside = 1.0 - (now % window_seconds) / window_seconds
        return current + previous * still_inside <= limit
    except Exception:
        logger.warning("Rate limit cache unavailable; letting %s through", client_key)
        return True
