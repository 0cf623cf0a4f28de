"""Settings for the core test suite: the standalone settings on the machine's services.

``make test`` sets ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``; without them the
suite runs on SQLite and the local-memory cache.
"""

from saleor_personalization.standalone.settings import *  # noqa: F403

PERSONALIZATION_DEFAULT_CHANNEL = "default-channel"
