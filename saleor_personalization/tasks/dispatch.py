"""Hand work to Celery from a request without ever failing the request.

Hooks run inside Saleor mutations. A broker that is down, full or misconfigured must
not turn a checkout into an "Internal Server Error", and the event must not be lost:
if sending fails, the task runs in-process instead (it is small by design), and if
that fails too the error is logged and the shop carries on.
"""

import logging
from typing import Any

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def _send(task: Task, args: tuple, kwargs: dict[str, Any]) -> None:
    try:
        task.apply_async(args=args, kwargs=kwargs)
        return
    except Exception:
        logger.warning("Could not queue %s; running it in-process", task.name, exc_info=True)
    try:
        task.apply(args=args, kwargs=kwargs, throw=True)
    except Exception:
        logger.exception("Task %s failed in-process; the event was not recorded", task.name)


def enqueue(task: Task, *args: Any, **kwargs: Any) -> None:
    """Queue ``task`` once the current transaction commits (at once outside one)."""
    try:
        transaction.on_commit(lambda: _send(task, args, kwargs), robust=True)
    except Exception:
        logger.exception("Could not schedule %s", task.name)
