"""Hand heavy work to a worker, or fail loudly: never run it in the caller's process.

``tasks.dispatch.enqueue`` is for hooks: small tasks that may run in-process when the
broker is down, because losing the event is worse. Training and scoring everyone are
hours of work; from a web request they go to a worker or nowhere.
"""

import logging
from typing import Any

from celery import Task

from .errors import QueueUnavailable

logger = logging.getLogger(__name__)

# Fail fast when the broker does not answer: a web request is waiting.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def send_to_worker(
    task: Task,
    *,
    kwargs: dict[str, Any] | None = None,
    queue: str | None = None,
    expires: int | None = None,
    allow_eager: bool = False,
) -> str:
    """Queue ``task``; raise :class:`QueueUnavailable` if no worker can get it.

    ``allow_eager``: in Celery's eager mode (no broker configured) the task runs here
    and now. Only callers that are themselves in a worker or a command may allow that.
    Returns the task id.
    """
    if task.app.conf.task_always_eager and not allow_eager:
        raise QueueUnavailable(
            "No Celery broker is configured (tasks would run inside this request): set "
            "CELERY_BROKER_URL and start a worker, or run the command line instead."
        )
    options: dict[str, Any] = {"retry": True, "retry_policy": PUBLISH_RETRY}
    if queue:
        options["queue"] = queue
    if expires:
        options["expires"] = expires
    try:
        result = task.apply_async(kwargs=kwargs or {}, **options)
    except Exception as exc:
        logger.warning("Could not queue %s", task.name, exc_info=True)
        raise QueueUnavailable(
            f"The Celery broker or worker is unreachable ({type(exc).__name__}: {exc})."
        ) from exc
    return result.id
