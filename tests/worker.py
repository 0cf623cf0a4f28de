"""Start a real Celery worker (standalone app, Redis broker) against the test database."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from celery import Celery
from django.db import connection

BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


@contextmanager
def celery_worker(
    home: Path,
    queues: str = "celery,personalization",
    concurrency: int = 2,
    env: dict[str, str] | None = None,
):
    """Yield a client app; a worker process consumes ``queues`` until the block ends."""
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saleor_personalization.standalone.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
        "REDIS_URL": BROKER,
        "PERSONALIZATION_HOME": str(home),
        **(env or {}),
    }
    log = (home / "worker.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "saleor_personalization.standalone.celery",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = Celery("test-client", broker=BROKER, backend=BROKER, set_as_current=False)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if client.control.ping(timeout=1):
                break
            if process.poll() is not None:
                raise RuntimeError((home / "worker.log").read_text()[-3000:])
        else:
            raise RuntimeError("the Celery worker did not start within 60 s")
        yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        client.close()
