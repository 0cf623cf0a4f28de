"""Plain-text tables of a run's metrics, for the CLI and the demo."""

from ..models import ModelRun

COLUMNS = ("ndcg", "precision", "recall", "map", "coverage", "auc", "jaccard")


def metrics_table(metrics: dict) -> list[str]:
    header = f"{'':<22}" + "".join(f"{name:>10}" for name in COLUMNS)
    lines = [header, "-" * len(header)]
    rows = [
        ("model, all", metrics.get("all")),
        ("popularity, all", metrics.get("popularity_all")),
        ("model, new", metrics.get("new")),
        ("popularity, new", metrics.get("popularity_new")),
    ]
    live = metrics.get("live")
    if live:
        rows.append((f"live model, all ({live['source'].split()[0]})", live["all"]))
    for label, values in rows:
        if values:
            lines.append(f"{label:<22}" + "".join(f"{values.get(n, 0):>10.3f}" for n in COLUMNS))
    cold = metrics.get("cold_items") or {}
    if cold.get("items"):
        lines.append(
            f"new products: recall@10 {cold['recall']:.3f} over {cold['items']} products unseen "
            f"in training (random order {cold['random_recall']:.3f})"
        )
    return lines


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
