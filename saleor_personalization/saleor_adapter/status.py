"""Show the live model's state in the Dashboard's read-only "Model status" field."""

import logging

from ..models import ModelRun
from .configuration import PLUGIN_ID

logger = logging.getLogger(__name__)


def describe(run: ModelRun) -> str:
    metrics = run.metrics or {}
    text = f"Run {run.pk}: {run.status}{' (live)' if run.is_live else ''}"
    if "all" in metrics:
        text += (
            f"; buy again NDCG@10 {metrics['all']['ndcg']:.3f} (bestsellers "
            f"{metrics['popularity_all']['ndcg']:.3f}), for you NDCG@10 "
            f"{metrics['new']['ndcg']:.3f}"
        )
    gate = metrics.get("gate")
    if gate and not gate.get("promote"):
        text += f"; not promoted: {gate['reason']}"
    if run.error:
        # The whole "not enough data" message: it tells a young shop what it lacks.
        text += f"; {run.error[:600]}"
    live = ModelRun.objects.filter(is_live=True).first()
    text += f". Live: run {live.pk}." if live else ". No live model."
    return text


def write_model_status(run: ModelRun) -> None:
    """Update the OUTPUT field inside Saleor (the only way to set one)."""
    from saleor.plugins.models import PluginConfiguration

    from ..configuration import default_configuration

    row, _ = PluginConfiguration.objects.get_or_create(
        identifier=PLUGIN_ID,
        channel=None,
        defaults={"active": False, "configuration": default_configuration()},
    )
    items = list(row.configuration or [])
    for item in items:
        if item.get("name") == "model_status":
            item["value"] = describe(run)
            break
    else:
        items.append({"name": "model_status", "value": describe(run)})
    row.configuration = items
    row.save(update_fields=["configuration"])
