"""Handing work to Celery, by task name: the services never import the task modules.

Two ways, for two kinds of work:

- :func:`enqueue` is for hooks and small follow-ups: it queues once the current
  transaction commits and never fails the request. A broker that is down, full or
  misconfigured must not turn a checkout into an "Internal Server Error", and the
  event must not be lost: if sending fails the task runs in-process instead (it is
  small by design), and if that fails too the error is logged and the shop carries on.
- :func:`send_to_worker` is for heavy work (training, scoring everyone): hours of
  work go to a worker or nowhere, never into a web request; it raises
  :class:`QueueUnavailable` instead.

Tasks are named (``saleor_personalization.<what>``, stable across refactorings) and
looked up in the Celery app, so this layer depends on the names, not on ``tasks/``
(which calls the services).
"""

import logging
from typing import Any

from celery import Task, current_app
from django.db import transaction

from .errors import QueueUnavailable

logger = logging.getLogger(__name__)

TRAIN_MODEL = "saleor_personalization.train_model"
SCORE_ALL = "saleor_personalization.score_all"
SCORE_CUSTOMERS = "saleor_personalization.score_customers"
ISSUE_OFFERS = "saleor_personalization.issue_offers"
SEND_ABANDONED_EMAIL = "saleor_personalization.send_abandoned_email"


def task_named(name: str) -> Task:
    """The registered task of that name (``AppConfig.ready()`` imports the task modules)."""
    return current_app.tasks[name]


# Fail fast when the broker does not answer: a web request is waiting.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def send_to_worker(
    task: Task | str,
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
    if isinstance(task, str):
        task = task_named(task)
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


def enqueue(task: Task | str, *args: Any, **kwargs: Any) -> None:
    """Queue ``task`` (or the task of that name) once the current transaction commits."""
    if isinstance(task, str):
        task = task_named(task)
    try:
        transaction.on_commit(lambda: _send(task, args, kwargs), robust=True)
    except Exception:
        logger.exception("Could not schedule %s", task.name)
