"""Training and scoring run inside Saleor's Celery (writer-access rules) and read its data."""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    ListKind,
    ModelRun,
    RecommendationList,
)
from saleor_personalization.saleor_adapter.backfill import run_backfill  # noqa: E402
from saleor_personalization.tasks import (  # noqa: E402
    score_all_task,
    train_model_task,
    training_tick_task,
)

pytestmark = pytest.mark.django_db


def test_training_without_history_fails_cleanly_and_shows_it_in_the_dashboard(
    personalization_config,
):
    result = train_model_task.apply(kwargs={"params": {"epochs": 2}}).get()
    run = ModelRun.objects.get(pk=result["run"])
    assert run.status == "failed"
    assert "not enough data" in run.error
    personalization_config.refresh_from_db()
    status = {i["name"]: i["value"] for i in personalization_config.configuration}
    assert status["model_status"].startswith(f"Run {run.pk}: failed")


def test_scoring_writes_popular_lists_from_saleor_orders(
    personalization_config, order_with_lines, channel_USD
):
    run_backfill()
    written = score_all_task.apply().get()
    assert written["popular"] >= 1
    popular = RecommendationList.objects.get(
        kind=ListKind.POPULAR, subject="", channel=channel_USD.slug
    )
    lines = {line.variant.product_id for line in order_with_lines.lines.all()}
    assert {entry["product_id"] for entry in popular.items} == lines


def test_tick_respects_the_dashboard(personalization_config, set_plugin_setting):
    set_plugin_setting("training_interval_hours", "0")
    assert training_tick_task.apply().get() == {"skipped": "scheduled training is off"}
    personalization_config.active = False
    personalization_config.save(update_fields=["active"])
    assert training_tick_task.apply().get() == {"skipped": "plugin inactive"}
