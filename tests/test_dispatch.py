"""A broker that is down never fails the caller, and the work still happens."""

import logging
from datetime import UTC, datetime

import pytest
from celery import Celery

from saleor_personalization.events.types import CartSnapshot, LineSnapshot
from saleor_personalization.models import Interaction
from saleor_personalization.services.queueing import enqueue
from saleor_personalization.tasks import record_cart_task

pytestmark = pytest.mark.django_db(transaction=True)


def _payload():
    return CartSnapshot(
        token="tok-d",
        channel="c",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=(LineSnapshot(1, 11, 1),),
        anonymous_id="s:x",
    ).to_payload()


def test_unreachable_broker_falls_back_to_running_in_process(caplog):
    # A real Celery app whose broker is a closed port: publishing fails at once.
    broken = Celery("broken", broker="redis://127.0.0.1:1/0", set_as_current=False)
    broken.conf.task_publish_retry = False
    broken.conf.broker_connection_timeout = 1
    task = broken.task(name="test.record_cart")(record_cart_task.run)
    with caplog.at_level(logging.WARNING, logger="saleor_personalization"):
        enqueue(task, _payload())
    assert Interaction.objects.count() == 1
    assert "running it in-process" in caplog.text


def test_failure_in_process_is_logged_not_raised(caplog):
    with caplog.at_level(logging.ERROR, logger="saleor_personalization"):
        enqueue(record_cart_task, {"not": "a snapshot"})
    assert "failed in-process" in caplog.text
    assert Interaction.objects.count() == 0
