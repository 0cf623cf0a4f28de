"""The standalone settings switch on environment variables, checked in fresh processes."""

import json
import os
import subprocess
import sys

import pytest

from saleor_personalization.standalone.environment import env_bool

PROBE = """
import json, django
from django.conf import settings
django.setup()
from celery import current_app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
}))
"""

VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DEBUG")


def _settings(tmp_path, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    environ.update(
        DJANGO_SETTINGS_MODULE="saleor_personalization.standalone.settings",
        PERSONALIZATION_HOME=str(tmp_path),
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_embedded(tmp_path):
    values = _settings(tmp_path)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "db.sqlite3")
    assert values["eager"] is True
    assert values["cache"].endswith("LocMemCache")


def test_database_url_switches_to_postgresql(tmp_path):
    values = _settings(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/shop")
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "shop"


def test_broker_url_makes_celery_use_the_broker(tmp_path):
    values = _settings(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/14")
    assert values["eager"] is False
    assert values["broker"] == "redis://127.0.0.1:6379/14"


def test_redis_url_switches_the_cache(tmp_path):
    values = _settings(tmp_path, REDIS_URL="redis://127.0.0.1:6379/13")
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_a_mistyped_boolean_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SP_FLAG", "ture")
    with pytest.raises(ValueError, match="SP_FLAG='ture' is not a boolean"):
        env_bool("SP_FLAG", default=False)
    monkeypatch.setenv("SP_FLAG", "Yes")
    assert env_bool("SP_FLAG", default=False) is True
    monkeypatch.delenv("SP_FLAG")
    assert env_bool("SP_FLAG", default=True) is True


@pytest.mark.django_db
def test_suite_runs_on_the_configured_database():
    """``make test`` points the suite at PostgreSQL; the test must see it."""
    from django.db import connection

    expected = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    )
    assert connection.vendor == expected


def test_cache_round_trips_through_redis_when_configured():
    from django.core.cache import cache

    cache.set("sp-test-key", {"a": 1}, 5)
    assert cache.get("sp-test-key") == {"a": 1}
    if os.environ.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        assert any(b"sp-test-key" in key for key in client.keys("*sp-test-key*"))
