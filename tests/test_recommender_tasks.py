"""Tasks: the tick follows the schedule, training is single-flight, chunks are idempotent."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from saleor_personalization.models import ListKind, ModelRun, ModelRunStatus, RecommendationList
from saleor_personalization.tasks import (
    score_customers_task,
    train_model_task,
    training_tick_task,
)
from saleor_personalization.tasks.recommender import TRAINING_LOCK
from saleor_personalization.tasks.schedule import BEAT_SCHEDULE

from .shop import FAST, build_shop

pytestmark = pytest.mark.django_db

NOW = "2026-06-01T00:00:00+00:00"


def test_beat_schedule_has_a_frequent_cheap_tick():
    entry = BEAT_SCHEDULE["saleor-personalization-training-tick"]
    assert entry["task"] == "saleor_personalization.training_tick"


def test_tick_trains_when_due_and_not_again_until_the_interval_passed(media):
    build_shop()
    result = training_tick_task.apply().get()
    assert result == {"queued": True}
    run = ModelRun.objects.get()
    assert run.status in {ModelRunStatus.SUCCEEDED, ModelRunStatus.REJECTED}

    assert "is recent" in training_tick_task.apply().get()["skipped"]
    ModelRun.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert training_tick_task.apply().get() == {"queued": True}


def test_training_is_single_flight(media):
    running = ModelRun.objects.create(status=ModelRunStatus.TRAINING, started_at=timezone.now())
    cache.set(TRAINING_LOCK, str(running.pk), 60)
    try:
        assert train_model_task.apply(kwargs={"params": FAST}).get() == {
            "skipped": "another training is running"
        }
    finally:
        cache.delete(TRAINING_LOCK)
    assert list(ModelRun.objects.values_list("pk", flat=True)) == [running.pk]


def test_retried_score_chunk_changes_nothing(media):
    build_shop()
    result = train_model_task.apply(kwargs={"params": FAST, "score": False}).get()
    assert result["live"]
    ids = list(range(1, 51))
    assert score_customers_task.apply(args=[ids], kwargs={"now": NOW}).get() == 50
    first = dict(
        RecommendationList.objects.filter(kind=ListKind.PERSONAL).values_list(
            "subject_id", "entries"
        )
    )
    assert score_customers_task.apply(args=[ids], kwargs={"now": NOW}).get() == 50
    second = dict(
        RecommendationList.objects.filter(kind=ListKind.PERSONAL).values_list(
            "subject_id", "entries"
        )
    )
    assert first == second
    assert len(second) == 50


def test_chunk_for_a_superseded_model_is_skipped(media):
    build_shop()
    result = train_model_task.apply(kwargs={"params": FAST, "score": False}).get()
    assert (
        score_customers_task.apply(args=[[1, 2]], kwargs={"run_id": result["run"] + 1}).get() == 0
    )
