"""A real Celery worker on Redis runs train -> evaluate -> promote -> score."""

import time

import pytest

from saleor_personalization.models import (
    Interaction,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationList,
)

from .shop import FAST, build_shop
from .worker import celery_worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _wait_for_personal_lists(expected: int, since, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = RecommendationList.objects.filter(
            kind=ListKind.PERSONAL, generated_at__gt=since
        ).count()
        if fresh >= expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"only {fresh} of {expected} personal lists after {timeout}s")


def test_worker_trains_promotes_and_scores_then_a_second_run_changes_nothing_else(tmp_path, media):
    build_shop()
    events_before = Interaction.objects.count()
    with celery_worker(tmp_path) as client:
        started = ModelRun.objects.count()
        from django.utils import timezone

        before = timezone.now()
        result = client.send_task(
            "saleor_personalization.train_model",
            kwargs={"params": FAST},
            queue="personalization",
        ).get(timeout=300)
        assert result["status"] == ModelRunStatus.SUCCEEDED, result
        assert result["live"] is True
        _wait_for_personal_lists(240, before)

        first = ModelRun.objects.get(pk=result["run"])
        assert first.is_live
        assert first.metrics["all"]["ndcg"] > first.metrics["popularity_all"]["ndcg"]
        lists_after_first = RecommendationList.objects.count()
        assert RecommendationList.objects.filter(kind=ListKind.PERSONAL).count() == 240

        before = timezone.now()
        again = client.send_task(
            "saleor_personalization.train_model",
            kwargs={"params": FAST},
            queue="personalization",
        ).get(timeout=300)
        if again["live"]:
            _wait_for_personal_lists(240, before)

    # The second run is a new, recorded run; nothing else grew or was duplicated.
    assert ModelRun.objects.count() == started + 2
    assert ModelRun.objects.filter(is_live=True).count() == 1
    assert RecommendationList.objects.count() == lists_after_first
    assert RecommendationList.objects.filter(kind=ListKind.PERSONAL).count() == 240
    assert Interaction.objects.count() == events_before
