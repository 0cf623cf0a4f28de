"""A fixed-window counter per client in Django's cache (Redis in Saleor)."""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def allow(client_key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one call; False once ``client_key`` made more than ``limit`` in the window.

    A cache failure lets the call through: tracking must not break because Redis
    hiccupped, and the limit protects the log, not money.
    """
    bucket = int(time.time() // window_seconds)
    key = f"sp:rate:{client_key}:{bucket}"
    try:
        cache.add(key, 0, timeout=window_seconds * 2)
        return cache.incr(key) <= limit
    except Exception:
        logger.warning("Rate limit cache unavailable; letting %s through", client_key)
        return True
