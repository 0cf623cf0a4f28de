"""Django settings for running the package without Saleor.

Defaults are embedded and need no service: SQLite in ``PERSONALIZATION_HOME`` and
Celery tasks run eagerly in-process. ``DATABASE_URL`` switches to PostgreSQL (the
product's database), ``CELERY_BROKER_URL`` to a real broker such as Redis.
"""

import json
import os
from pathlib import Path

import dj_database_url

from saleor_personalization.standalone.environment import env_bool

HOME = Path(os.environ.get("PERSONALIZATION_HOME", Path.cwd() / ".personalization")).resolve()

SECRET_KEY = os.environ.get("SECRET_KEY", "standalone-insecure-key-change-me")
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "saleor_personalization",
    "saleor_personalization.standalone",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "saleor_personalization.standalone.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{HOME / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(HOME / "media")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_URL = "/static/"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = "CELERY_BROKER_URL" not in os.environ
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict = {}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "saleor_personalization": {
            "handlers": ["console"],
            "level": os.environ.get("LOG_LEVEL", "WARNING"),
        },
        # graphql-core logs every resolver error with a traceback, expected ones
        # (NOT_FOUND, PERMISSION_DENIED) included; unexpected ones are logged by the
        # endpoint itself (saleor_personalization.graphql.http).
        "graphql.execution.utils": {"handlers": [], "propagate": False},
        "graphql.execution.executor": {"handlers": [], "propagate": False},
    },
}

# Abandoned-checkout emails in standalone mode (the demo renders one; tests send them).
PERSONALIZATION_SHOP_NAME = os.environ.get("PERSONALIZATION_SHOP_NAME", "Demo shop")
PERSONALIZATION_PUBLIC_URL = os.environ.get("PERSONALIZATION_PUBLIC_URL", "http://127.0.0.1:8000")
PERSONALIZATION_PRODUCT_IMAGE_URL = os.environ.get("PERSONALIZATION_PRODUCT_IMAGE_URL", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "shop@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))

# The plugin's settings (the Dashboard form inside Saleor), by their Dashboard names, e.g.
# PERSONALIZATION_CONFIGURATION='{"emailsRecoveryUrl": "https://shop.example.com/cart/{token}",
# "emailsSmtpHost": "..."}' (a filled-in recovery URL starts abandoned-checkout emails).
PERSONALIZATION_CONFIGURATION = json.loads(os.environ.get("PERSONALIZATION_CONFIGURATION", "{}"))
PERSONALIZATION_EMAIL_RETRY_SECONDS = int(
    os.environ.get("PERSONALIZATION_EMAIL_RETRY_SECONDS", "30")
)
