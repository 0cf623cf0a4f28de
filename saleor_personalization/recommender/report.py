"""Plain-text tables of a run's metrics, for the CLI and the demo."""

from ..models import ModelRun

COLUMNS = ("ndcg", "precision", "recall", "map", "coverage", "auc", "jaccard")


def metrics_table(metrics: dict) -> list[str]:
    header = f"{'':<22}" + "".join(f"{name:>10}" for name in COLUMNS)
    lines = [header, "-" * len(header)]
    rows = [
        ("buy again (all)", metrics.get("all"), ()),
        ("bestsellers (all)", metrics.get("popularity_all"), ()),
        ("for you (new)", metrics.get("new"), ()),
        ("bestsellers (new)", metrics.get("popularity_new"), ()),
    ]
    live = metrics.get("live")
    if live:
        # The live model is scored for the gate, which reads NDCG: no AUC is computed.
        rows.append(("live: buy again (all)", live.get("all"), ("auc",)))
        rows.append(("live: for you (new)", live.get("new"), ("auc",)))
    for label, values, blank in rows:
        if values:
            cells = (f"{'-':>10}" if n in blank else f"{values.get(n, 0):>10.3f}" for n in COLUMNS)
            lines.append(f"{label:<22}" + "".join(cells))
    if live:
        lines.append(f"live model: {live['source']}")
    fresh = metrics.get("new_products") or {}
    if fresh.get("products"):
        lines.append(
            f"new products ({fresh['products']} first sold in the holdout): in "
            f"{fresh['share']:.0%} of 'for you' top-10 lists; recall@10 of their "
            f"{fresh['buyers']} buyers {fresh['recall']:.3f} (same places at random "
            f"{fresh['random_recall']:.3f})"
        )
    for said in (hybrid_unweighted(metrics), reorder_unused(metrics)):
        if said:
            lines.append(said)
    return lines


def hybrid_unweighted(metrics: dict) -> str:
    """Said when validation gave the LightFM hybrid no weight in a list: that list then
    comes from the other signals alone, and the admin should know."""
    tuning = metrics.get("tuning") or {}
    lists = [
        label
        for protocol, label in (("all", "buy again"), ("new", "for you"))
        if (tuning.get(protocol) or {}).get("weights", {}).get("factorisation", 1) == 0
    ]
    if not lists:
        return ""
    return (
        f"the LightFM hybrid got no weight on the validation window for: {', '.join(lists)} "
        "(those lists come from reorders, co-purchases and trends alone)"
    )


def reorder_unused(metrics: dict) -> str:
    """Said when 'buy again' does not use the learned reorder model: too few reorders to
    learn from, or validation gave it no weight against the other signals."""
    if metrics.get("reorder_model") is False:
        return "too few reorders to learn from: 'buy again' uses the fixed count-and-recency signal"
    weights = ((metrics.get("tuning") or {}).get("all") or {}).get("weights") or {}
    if weights.get("repeat", 1) == 0:
        return (
            "the learned reorder model got no weight on the validation window: 'buy again' "
            "orders the customer's purchases by co-purchases, LightFM and trends"
        )
    return ""


def run_summary(run: ModelRun) -> list[str]:
    lines = [f"model run {run.pk}: {run.status}{' (live)' if run.is_live else ''}"]
    if run.data_window_start and run.data_window_end:
        lines.append(
            f"data {run.data_window_start:%Y-%m-%d}..{run.data_window_end:%Y-%m-%d}, "
            f"holdout from {run.holdout_start:%Y-%m-%d}"
        )
    if run.error:
        lines.append(f"error: {run.error}")
    if run.metrics.get("all"):
        lines += metrics_table(run.metrics)
    gate = run.metrics.get("gate")
    if gate:
        lines.append(
            f"promotion gate: {'passed' if gate['promote'] else 'refused'}: {gate['reason']}"
        )
    return lines
