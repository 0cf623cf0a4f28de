"""One service per use case: every entry point runs the same code with the same settings.

Real PostgreSQL, Redis, Django storage and, where the queue matters, a real Celery
worker; a broker that cannot be reached is a real closed port.
"""

import json
import time
from datetime import timedelta

import pytest
from celery import Celery
from celery import current_app as celery_current_app
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from saleor_personalization.models import ListKind, ModelRun, ModelRunStatus, RecommendationList
from saleor_personalization.recommender.model import InvalidParameters
from saleor_personalization.services import training
from saleor_personalization.services.errors import QueueUnavailable, TrainingBusy
from saleor_personalization.services.offers import ISSUE_LOCK
from saleor_personalization.services.segments import refresh_segments
from saleor_personalization.standalone.graphql_backend import issue_token

from .shop import FAST, build_shop
from .worker import celery_worker


def _personal_lengths() -> set[int]:
    return {
        len(items)
        for items in RecommendationList.objects.filter(kind=ListKind.PERSONAL).values_list(
            "entries", flat=True
        )
    }


def _fake_run(name: str, **fields) -> ModelRun:
    """A trained run whose model file is a real file in Django's storage."""
    stored = default_storage.save(f"personalization/models/{name}.npz", ContentFile(b"x"))
    default_storage.save(f"{stored}.json", ContentFile(b"{}"))
    return ModelRun.objects.create(
        status=fields.pop("status", ModelRunStatus.SUCCEEDED), artifact=stored, **fields
    )


class _CurrentApp:
    """Make ``app`` Celery's current app (the one shared tasks resolve to) for a block."""

    def __init__(self, app: Celery):
        self.app = app

    def __enter__(self):
        self.previous = celery_current_app._get_current_object()
        self.app.set_current()
        return self.app

    def __exit__(self, *exc):
        self.previous.set_current()


@pytest.mark.django_db
def test_train_and_score_commands_use_the_dashboard_list_length_and_prune_old_files(media):
    build_shop()
    old = _fake_run("old", created_at=timezone.now())
    ModelRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=9))
    with override_settings(
        PERSONALIZATION_CONFIGURATION={"list_size": 14}, PERSONALIZATION_KEEP_MODEL_RUNS=0
    ):
        call_command("personalization_train", "--params", json.dumps(FAST))
    run = ModelRun.objects.get(is_live=True)
    assert _personal_lengths() == {14}
    # Retention after the run: the old run's file is gone, the live run's is kept.
    old.refresh_from_db()
    assert old.artifact == ""
    assert not (media / "personalization/models/old.npz").exists()
    assert default_storage.exists(run.artifact)

    with override_settings(PERSONALIZATION_CONFIGURATION={"list_size": 12}):
        call_command("personalization_score")
    assert _personal_lengths() == {12}
    similar = RecommendationList.objects.filter(kind=ListKind.SIMILAR).values_list("entries")
    assert similar
    assert max(len(items) for (items,) in similar) == 12

    with override_settings(PERSONALIZATION_CONFIGURATION={"list_size": 10}):
        call_command("personalization_rollback", "--to", str(run.pk))
    assert _personal_lengths() == {10}


def _train_mutation(client) -> dict:
    """``personalizationTrain`` as staff, over the standalone server's /graphql/."""
    response = client.post(
        "/graphql/",
        {
            "query": "mutation($p: JSONString) { personalizationTrain(params: $p) "
            "{ run { status } message } }",
            "variables": {"p": json.dumps(FAST)},
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {issue_token(staff=True)}",
    )
    return response.json()


@pytest.mark.django_db
def test_the_train_mutation_without_a_broker_refuses_and_trains_nothing(client, media):
    """Eager mode (no broker configured) would train inside the request: refused."""
    build_shop()
    with pytest.raises(InvalidParameters):
        training.request_training({"epochs": -3})
    body = _train_mutation(client)
    assert body["data"]["personalizationTrain"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert "No Celery broker is configured" in error["message"]
    assert "Nothing was trained" in error["message"]
    # The mutation's savepoint drops the run it could not queue; the service itself
    # records it as failed (the command line sees that).
    assert not ModelRun.objects.exists()
    with pytest.raises(QueueUnavailable, match="Nothing was trained"):
        training.request_training(FAST)
    run = ModelRun.objects.get()
    assert run.status == ModelRunStatus.FAILED
    assert "not queued" in run.error
    assert not run.artifact
    assert not ModelRun.objects.filter(is_live=True).exists()


@pytest.mark.django_db
def test_request_training_with_the_broker_unreachable_raises_and_trains_nothing(media):
    build_shop()
    closed = Celery("closed-broker", broker="redis://127.0.0.1:1/0", set_as_current=False)
    try:
        with _CurrentApp(closed):
            started = time.monotonic()
            with pytest.raises(QueueUnavailable) as raised:
                training.request_training(FAST)
            assert time.monotonic() - started < 30
            message = str(raised.value)
            assert "unreachable" in message
            assert "Nothing was trained" in message
            # The failed request does not block the next one.
            with pytest.raises(QueueUnavailable):
                training.request_training(FAST)
    finally:
        closed.close()
    runs = list(ModelRun.objects.all())
    assert len(runs) == 2
    assert all(r.status == ModelRunStatus.FAILED and not r.artifact for r in runs)
    assert not RecommendationList.objects.filter(kind=ListKind.PERSONAL).exists()


@pytest.mark.django_db
def test_stale_runs_are_recovered_and_genuine_ones_refuse_a_second_training():
    now = timezone.now()
    queued = ModelRun.objects.create(status=ModelRunStatus.QUEUED)
    training_run = ModelRun.objects.create(status=ModelRunStatus.TRAINING, started_at=now)
    cache.set(training.TRAINING_LOCK, str(training_run.pk), 60)
    try:
        # Both genuinely in progress: nothing recovered, a request is refused.
        assert training.recover_stale_runs() == []
        with pytest.raises(TrainingBusy):
            training.request_training(FAST)
        # The queued run's message expired; the training one ran past the time limit.
        ModelRun.objects.filter(pk=queued.pk).update(created_at=now - timedelta(hours=7))
        ModelRun.objects.filter(pk=training_run.pk).update(started_at=now - timedelta(hours=5))
        assert training.recover_stale_runs() == [queued.pk, training_run.pk]
    finally:
        cache.delete(training.TRAINING_LOCK)
    # A worker killed a minute ago: the lock went with it, so the run is stale at once.
    evaluating = ModelRun.objects.create(status=ModelRunStatus.EVALUATING, started_at=now)
    assert training.recover_stale_runs() == [evaluating.pk]
    for run in ModelRun.objects.all():
        assert run.status == ModelRunStatus.FAILED
        assert run.error.startswith("Recovered as stale")


@pytest.mark.django_db
def test_a_queued_run_whose_message_was_lost_stops_blocking_after_half_an_hour():
    """Found on a running shop: a lost message kept the train mutation refused for 6 h."""
    now = timezone.now()
    lost = ModelRun.objects.create(status=ModelRunStatus.QUEUED)
    ModelRun.objects.filter(pk=lost.pk).update(created_at=now - timedelta(minutes=10))
    assert training.recover_stale_runs() == []  # a worker may still be about to take it
    ModelRun.objects.filter(pk=lost.pk).update(created_at=now - timedelta(minutes=31))
    cache.set(training.TRAINING_LOCK, "999", 60)
    try:
        assert training.recover_stale_runs() == []  # waiting behind a running training
    finally:
        cache.delete(training.TRAINING_LOCK)
    assert training.recover_stale_runs() == [lost.pk]


@pytest.mark.django_db
def test_retention_keeps_live_previous_n_pinned_and_the_rollback_target(media):
    now = timezone.now()

    def run(name, age_days, **fields):
        made = _fake_run(name, **fields)
        ModelRun.objects.filter(pk=made.pk).update(created_at=now - timedelta(days=age_days))
        return made

    target = run("target", 10, promoted_at=now - timedelta(days=10))
    pinned = run("pinned", 9, pinned=True, status=ModelRunStatus.REJECTED)
    doomed = [run(f"doomed{k}", 8 - k, status=ModelRunStatus.REJECTED) for k in range(3)]
    recent = run("recent", 1, status=ModelRunStatus.REJECTED)
    live = run("live", 2, promoted_at=now - timedelta(days=2), is_live=True)

    pruned = training.prune_artifacts(keep=1)

    assert sorted(pruned) == sorted(r.pk for r in doomed)
    for kept in (target, pinned, recent, live):
        kept.refresh_from_db()
        assert kept.artifact
        assert default_storage.exists(kept.artifact)
        assert default_storage.exists(f"{kept.artifact}.json")
    for gone in doomed:
        gone.refresh_from_db()
        assert gone.artifact == ""
        assert not (media / "personalization/models" / f"doomed{doomed.index(gone)}.npz").exists()
    # A rollback to a pruned run says why instead of failing on a missing file.
    with pytest.raises(ValueError, match="has no artifact"):
        training.rollback(doomed[0].pk, rescore=False)


@pytest.mark.django_db
def test_pin_command_keeps_a_run_and_refuses_one_without_a_file(media, capsys):
    kept = _fake_run("kept")
    call_command("personalization_pin", str(kept.pk))
    kept.refresh_from_db()
    assert kept.pinned
    call_command("personalization_pin", str(kept.pk), "--unpin")
    kept.refresh_from_db()
    assert not kept.pinned
    failed = ModelRun.objects.create(status=ModelRunStatus.FAILED)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no model file"):
        call_command("personalization_pin", str(failed.pk))


@pytest.mark.django_db
def test_segment_command_mirrors_memberships_and_issues_offers_as_the_task_does(capsys):
    build_shop(customers=60)
    call_command("personalization_segment")
    out = capsys.readouterr().out
    # Standalone: no customer records to mirror on (0 written, and said so); offers ran.
    assert "memberships written to the shop's customers: 0" in out
    assert "offers issued: 0 in 0 campaigns" in out

    # The same issuing service as the task: its lock holds the command back too.
    cache.set(ISSUE_LOCK, "1", 60)
    try:
        refresh = refresh_segments(offers_inline=True)
        assert refresh.metadata_written == 0
        assert refresh.offers.skipped_reason == "another issuing run is in progress"
        call_command("personalization_offers", "--issue")
        assert "offers not issued: another issuing run is in progress" in capsys.readouterr().err
        assert cache.get(ISSUE_LOCK) == "1"  # not released by the run it refused
    finally:
        cache.delete(ISSUE_LOCK)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_train_mutation_queues_on_the_training_queue_after_a_stale_run_is_recovered(
    client, tmp_path, media
):
    build_shop()
    # A run a killed worker left TRAINING: before, manual training was refused for good.
    stale = ModelRun.objects.create(status=ModelRunStatus.TRAINING, started_at=timezone.now())
    queue = "sp-test-training"
    # The worker consumes the training queue only: a run it trains went there.
    with (
        override_settings(PERSONALIZATION_TRAINING_QUEUE=queue),
        celery_worker(tmp_path, queues=queue, concurrency=1) as worker_app,
    ):
        with _CurrentApp(worker_app):
            body = _train_mutation(client)
        assert body["data"]["personalizationTrain"] == {
            "run": {"status": "queued"},
            "message": "Training queued.",
        }, body
        run = ModelRun.objects.exclude(pk=stale.pk).get()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status not in training.IN_PROGRESS:
                break
            time.sleep(0.5)
    stale.refresh_from_db()
    assert stale.status == ModelRunStatus.FAILED
    assert "Recovered as stale" in stale.error
    assert run.status == ModelRunStatus.SUCCEEDED, run.error
    assert run.is_live
    assert run.artifact


@pytest.mark.django_db
def test_a_lock_left_by_a_run_that_is_not_training_is_taken_over():
    """A killed worker's lock would refuse every training for hours; it is taken over."""
    training_run = ModelRun.objects.create(status=ModelRunStatus.TRAINING)
    finished = ModelRun.objects.create(status=ModelRunStatus.FAILED)
    try:
        cache.set(training.TRAINING_LOCK, str(training_run.pk), timeout=60)
        assert not training._take_lock()  # a run that may still be training keeps it
        cache.set(training.TRAINING_LOCK, str(finished.pk), timeout=60)
        assert training._take_lock()
        assert cache.get(training.TRAINING_LOCK) == training.STARTING
        assert not training._take_lock()  # and now it is ours
    finally:
        cache.delete(training.TRAINING_LOCK)


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_recovered_once_its_lock_lapses(monkeypatch):
    """The lock is renewed by the training worker; a killed worker's lock lapses in seconds."""
    monkeypatch.setattr(training, "LOCK_TTL", 1)
    monkeypatch.setattr(training, "LOCK_RENEWAL", 0.2)
    dead = ModelRun.objects.create(status=ModelRunStatus.TRAINING, started_at=timezone.now())
    heartbeat = training._LockHeartbeat(dead.pk)
    with heartbeat:
        time.sleep(1.5)  # renewed meanwhile: still held by the run
        assert cache.get(training.TRAINING_LOCK) == str(dead.pk)
        assert training.recover_stale_runs() == []
    # The worker is gone (nothing renews): after the TTL the run is recovered.
    cache.set(training.TRAINING_LOCK, str(dead.pk), timeout=1)
    time.sleep(1.5)
    assert training.recover_stale_runs() == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == ModelRunStatus.FAILED
