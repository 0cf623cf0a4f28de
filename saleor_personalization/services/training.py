"""Training, rollback and model-file retention: one path for the tick, the task, the
mutations and the command.

A run is recorded QUEUED when it is asked for, then TRAINING, EVALUATING and finally
SUCCEEDED, REJECTED or FAILED. Only one training runs at a time: a cache lock (the
shared cache, Redis in Saleor) holds the id of the run that is training. A run whose
worker died, or whose message was lost, would otherwise block manual training for
good; :func:`recover_stale_runs` marks it FAILED once it provably is not running.
"""

import contextlib
import logging
import threading
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from ..conf import get_settings
from ..features.customers import clear_attributes
from ..models import ModelRun, ModelRunStatus
from ..recommender import pipeline
from ..recommender.artifact import delete_artifact
from ..recommender.model import ModelParams
from ..shop import ShopCapabilityMissing, get_shop
from .backfill import sync_customers
from .errors import QueueUnavailable, TrainingBusy
from .queueing import SCORE_ALL, TRAIN_MODEL, send_to_worker
from .scoring import score_all

__all__ = [
    "QueueUnavailable",
    "TrainingBusy",
    "pin",
    "prune_artifacts",
    "recover_stale_runs",
    "request_training",
    "rollback",
    "score_after_training",
    "train",
    "training_tick",
]

logger = logging.getLogger(__name__)

TRAINING_LOCK = "saleor-personalization:training"
REQUEST_LOCK = "saleor-personalization:training-request"
# The train task's hard time limit: Celery kills a training that runs longer, so a
# run started before this is not running any more, whatever the lock says.
TRAINING_TIME_LIMIT = 4 * 3600
# A queued training message expires after this; a run still QUEUED then never starts.
QUEUED_EXPIRY = 6 * 3600
# A queued run no worker has claimed while no training runs: its message is lost.
QUEUED_UNCLAIMED = 30 * 60
IN_PROGRESS = (ModelRunStatus.QUEUED, ModelRunStatus.TRAINING, ModelRunStatus.EVALUATING)
STARTING = "starting"
# The lock names the training run and lives only while its worker renews it: a worker
# killed mid-training lets it lapse within LOCK_TTL, and the run is then stale.
LOCK_TTL = 90
LOCK_RENEWAL = 30
STARTING_TIMEOUT = 300


def _lock_holder() -> str | None:
    try:
        value = cache.get(TRAINING_LOCK)
    except Exception:
        logger.warning("Cache unavailable; cannot see which run holds the training lock")
        return None
    return None if value is None else str(value)


def recover_stale_runs() -> list[int]:
    """Mark FAILED the runs left QUEUED/TRAINING/EVALUATING that cannot be in progress.

    QUEUED: older than the message's expiry, so no worker will ever start it.
    TRAINING/EVALUATING: the training lock is not held by this run (its worker was
    killed, or the lock expired with it), or it started before the task's hard time
    limit. Returns the ids of the runs recovered.
    """
    now = timezone.now()
    holder = _lock_holder()
    recovered = []
    with get_shop().database.writer():
        for run in ModelRun.objects.filter(status__in=IN_PROGRESS).order_by("pk"):
            if run.status == ModelRunStatus.QUEUED:
                # Expired for sure; or unclaimed for a while with no training running
                # (so nothing it waits for): a lost message must not block manual
                # training for the expiry's six hours. A message that still arrives
                # finds the run failed and trains nothing.
                age = now - run.created_at
                stale = age > timedelta(seconds=QUEUED_EXPIRY) or (
                    age > timedelta(seconds=QUEUED_UNCLAIMED) and holder is None
                )
                reason = "queued but never started (the message expired or was lost)"
            else:
                started = run.started_at or run.created_at
                overdue = started < now - timedelta(seconds=TRAINING_TIME_LIMIT)
                stale = overdue or holder != str(run.pk)
                reason = (
                    "exceeded the training time limit"
                    if overdue
                    else "its worker stopped (the training lock was no longer held)"
                )
            if not stale:
                continue
            # Only if nobody moved it on meanwhile (a finishing run wins).
            if (
                ModelRun.objects.filter(pk=run.pk, status=run.status).update(
                    status=ModelRunStatus.FAILED,
                    error=f"Recovered as stale while {run.status}: {reason}.",
                    finished_at=now,
                )
                == 1
            ):
                logger.warning("Model run %s was %s; marked failed: %s", run.pk, run.status, reason)
                recovered.append(run.pk)
    return recovered


def _in_progress() -> ModelRun | None:
    return ModelRun.objects.filter(status__in=IN_PROGRESS).order_by("pk").first()


def _queue_run(params: dict | None, *, allow_eager: bool) -> ModelRun:
    """Record a QUEUED run and send it to the training queue (mark it FAILED if not sent)."""
    checked = ModelParams.from_dict(params)  # raises InvalidParameters
    recover_stale_runs()
    try:
        took = cache.add(REQUEST_LOCK, "1", timeout=30)
    except Exception:
        took = True  # no shared cache: the in-progress check below still applies
    if not took:
        raise TrainingBusy("A training is being queued right now.")
    try:
        with get_shop().database.writer():
            busy = _in_progress()
            if busy is not None:
                raise TrainingBusy(f"Model run {busy.pk} is already {busy.status}.")
            run = ModelRun.objects.create(params=checked.as_dict())
    finally:
        try:
            cache.delete(REQUEST_LOCK)
        except Exception:
            logger.warning("Cache unavailable; the request lock expires by itself")
    try:
        send_to_worker(
            TRAIN_MODEL,
            kwargs={"run_id": run.pk},
            queue=get_settings().training_queue,
            expires=QUEUED_EXPIRY,
            allow_eager=allow_eager,
        )
    except QueueUnavailable as error:
        with get_shop().database.writer():
            pipeline._fail(run, f"not queued: {error}")
        raise QueueUnavailable(f"{error} Nothing was trained.") from error
    with get_shop().database.writer():
        run.refresh_from_db()
    return run


def request_training(params: dict | None = None) -> ModelRun:
    """Queue a training on the training queue for a worker; never train here.

    Raises ``InvalidParameters`` for bad parameters, :class:`TrainingBusy` while a
    run is genuinely queued or training, :class:`QueueUnavailable` when no worker can
    get it (the run is then recorded FAILED with the reason).
    """
    return _queue_run(params, allow_eager=False)


def training_tick() -> dict:
    """Cheap and frequent: queue a training when the Dashboard's interval has passed."""
    config, active = get_shop().configuration.load()
    if not active:
        return {"skipped": "plugin inactive"}
    if not config.training_interval_hours:
        return {"skipped": "scheduled training is off"}
    recovered = recover_stale_runs()
    with get_shop().database.writer():
        busy = _in_progress()
        latest = (
            ModelRun.objects.exclude(status=ModelRunStatus.FAILED).order_by("-created_at").first()
        )
    if busy is not None:
        return {"skipped": f"run {busy.pk} is {busy.status}"}
    due = latest is None or latest.created_at <= timezone.now() - timedelta(
        hours=config.training_interval_hours
    )
    if not due:
        return {"skipped": f"last run {latest.pk} is recent"}
    try:
        # The tick runs in a worker: in eager mode (no broker) training runs here too.
        _queue_run(None, allow_eager=True)
    except (TrainingBusy, QueueUnavailable) as error:
        return {"skipped": str(error)}
    result: dict = {"queued": True}
    if recovered:
        result["recovered"] = recovered
    return result


def _take_lock() -> bool:
    """Take the single-flight lock; a lock left by a run that is no longer training is taken over.

    A worker killed mid-training leaves its lock for the time limit; without the
    takeover every training would be refused for hours. ``STARTING`` is held only
    for the moment between taking the lock and naming the run (a short timeout).
    """
    try:
        if cache.add(TRAINING_LOCK, STARTING, timeout=STARTING_TIMEOUT):
            return True
        holder = _lock_holder()
        if holder is None or holder == STARTING:
            return False
        if (
            holder.isdigit()
            and ModelRun.objects.filter(pk=int(holder), status__in=IN_PROGRESS).exists()
        ):
            return False
        logger.warning(
            "Training lock held by model run %s, which is not training: taken over", holder
        )
        cache.delete(TRAINING_LOCK)
        return bool(cache.add(TRAINING_LOCK, STARTING, timeout=STARTING_TIMEOUT))
    except Exception:
        logger.warning("Cache unavailable; training without the single-flight lock")
        return True


class _LockHeartbeat:
    """Hold the training lock for ``run_id`` while the block runs, renewing it.

    A thread renews the lock every ``LOCK_RENEWAL`` seconds with a ``LOCK_TTL``
    expiry. LightFM releases the GIL while it fits, so the thread keeps time; if the
    worker dies, nothing renews the lock and the next request recovers the run.
    """

    def __init__(self, run_id: int):
        self.run_id = str(run_id)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._renew, daemon=True, name="training-lock")

    def _set(self) -> None:
        try:
            cache.set(TRAINING_LOCK, self.run_id, timeout=LOCK_TTL)
        except Exception:
            logger.warning("Cache unavailable; the training lock was not renewed")

    def _renew(self) -> None:
        while not self.stop.wait(LOCK_RENEWAL):
            self._set()

    def __enter__(self) -> "_LockHeartbeat":
        self._set()
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def _release_lock(run_id: int | None) -> None:
    try:
        if _lock_holder() in {STARTING, str(run_id)}:
            cache.delete(TRAINING_LOCK)
    except Exception:
        logger.warning("Cache unavailable; the training lock expires by itself")


def train(
    run_id: int | None = None,
    params: dict | None = None,
    *,
    score: bool = True,
    score_inline: bool = False,
) -> ModelRun:
    """Train a queued run (or a new one), evaluate, promote if good, prune, then score.

    Raises :class:`TrainingBusy` if another training holds the lock (a queued run
    that cannot start is then marked FAILED, so it does not block later requests).
    Scoring follows every run, promoted or not (see :func:`score_after_training`):
    queued for workers, or in this process with ``score_inline`` (the command).
    """
    if not _take_lock():
        if run_id is not None:
            with get_shop().database.writer():
                ModelRun.objects.filter(pk=run_id, status=ModelRunStatus.QUEUED).update(
                    status=ModelRunStatus.FAILED,
                    error="Another training was running when this one was due to start.",
                    finished_at=timezone.now(),
                )
        raise TrainingBusy("another training is running")
    run: ModelRun | None = None
    try:
        # We hold the lock: no other run can be training, so any marked so is stale.
        recover_stale_runs()
        with get_shop().database.writer():
            if run_id is not None:
                run = ModelRun.objects.get(pk=run_id)
                if run.status != ModelRunStatus.QUEUED:
                    logger.info("Model run %s is %s; not training it again", run.pk, run.status)
                    return run
            else:
                run = pipeline.start_run(params)
            with _LockHeartbeat(run.pk):
                _refresh_customer_attributes()
                run = pipeline.train_run(run)
            get_shop().configuration.write_model_status(run)
        prune_artifacts()
    finally:
        _release_lock(run.pk if run is not None else None)
    if score:
        try:
            score_after_training(run, inline=score_inline)
        except Exception:
            if score_inline:
                raise
            logger.exception("Scoring after model run %s could not be queued", run.pk)
    return run


def _refresh_customer_attributes() -> None:
    """Customers' mapped metadata attributes, read fresh before the model learns from
    them; with no key mapped (any more), none are kept: an admin who empties the
    setting stops the model learning from metadata at the next run."""
    config, _ = get_shop().configuration.load()
    if not config.customer_attribute_keys:
        with get_shop().database.writer():
            clear_attributes()
        return
    with contextlib.suppress(ShopCapabilityMissing):
        sync_customers()


def score_after_training(run: ModelRun, *, inline: bool = False) -> dict[str, int]:
    """Everyone if the run went live; otherwise the customers whose data changed.

    A rejected or failed run still rescores with the live model those who ordered
    since their list was written (and, before any model exists, writes the
    bestseller, trending and bought-together lists a young shop serves).
    """
    if run.is_live:
        return score_all(run_id=run.pk, inline=inline)
    return score_all(changed_only=True, inline=inline)


def rollback(to_run_id: int | None = None, *, rescore: bool = True) -> ModelRun:
    """Put an earlier run live (the given one, or the one live before) and rescore.

    Raises ``ValueError`` (no such run, nothing to roll back to) or ``ArtifactError``.
    With ``rescore`` the scoring is queued for workers; if it cannot be, the rollback
    stands, a warning is logged and the lists follow at the next scoring.
    Commands pass ``rescore=False`` and score in their own process.
    """
    with get_shop().database.writer():
        target = pipeline.rollback(to_run_id)
        get_shop().configuration.write_model_status(target)
    if rescore:
        try:
            send_to_worker(SCORE_ALL, kwargs={"run_id": target.pk})
        except QueueUnavailable as error:
            # The rollback stands: serving uses the live model's lists, and lists from
            # another run are rescored by the next scoring (``changed_customers``).
            logger.warning(
                "Model run %s is live again; its lists were not queued for rescoring (%s). "
                "They follow at the next scoring.",
                target.pk,
                error,
            )
    return target


def pin(run_id: int, pinned: bool = True) -> ModelRun:
    """Keep (or stop keeping) a run's model file whatever the retention says."""
    with get_shop().database.writer():
        run = ModelRun.objects.filter(pk=run_id).first()
        if run is None:
            raise ValueError(f"there is no model run {run_id}")
        if pinned and not run.artifact:
            raise ValueError(f"run {run.pk} has no model file to keep ({run.status})")
        run.pinned = pinned
        run.save(update_fields=["pinned"])
    return run


def prune_artifacts(keep: int | None = None) -> list[int]:
    """Delete model files no rollback is likely to need; returns the runs pruned.

    Kept: the live run, anything pinned, the ``keep`` most recent other trained runs
    (``PERSONALIZATION_KEEP_MODEL_RUNS``) and the run a plain rollback would go back
    to. The others' files are deleted from Django's storage and their ``artifact``
    cleared, so a rollback to them says there is no model file instead of failing.
    """
    keep = get_settings().keep_model_runs if keep is None else keep
    with get_shop().database.writer():
        trained = list(
            ModelRun.objects.filter(status__in=[ModelRunStatus.SUCCEEDED, ModelRunStatus.REJECTED])
            .exclude(artifact="")
            .order_by("-created_at", "-pk")
        )
        live = next((run for run in trained if run.is_live), None)
        candidates = [run for run in trained if not run.is_live and not run.pinned]
        kept = {run.pk for run in candidates[:keep]}
        previous = [run for run in candidates if run.promoted_at is not None]
        if live is not None and live.promoted_at is not None:
            previous = [run for run in previous if run.promoted_at < live.promoted_at]
        if previous:
            kept.add(max(previous, key=lambda run: run.promoted_at).pk)
        pruned = []
        for run in candidates:
            if run.pk in kept:
                continue
            try:
                delete_artifact(run.artifact)
            except Exception:
                logger.exception("Model file of run %s could not be deleted", run.pk)
                continue
            ModelRun.objects.filter(pk=run.pk).update(artifact="")
            pruned.append(run.pk)
    if pruned:
        logger.info("Model files deleted for runs %s", pruned)
    return pruned
