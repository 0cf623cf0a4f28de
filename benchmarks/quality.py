"""Recommendation quality and speed on the Online Retail dataset.

    make benchmark            # or: .venv/bin/python benchmarks/quality.py [--fast]

Protocol (as in issue 7): the last 4 weeks are held out; customers seen in training
are ranked; interactions are distinct invoices per customer and product; 2 threads.
"all" counts reorders as hits, "new" removes what the customer already bought from
ranking and truth. Prints NDCG@10, P@10, R@10, coverage@10 and list overlap for the
project's model beside popularity, re-recommending past purchases, item-kNN, plain
LightFM and implicit ALS (when the ``implicit`` package is installed), then cold-item
recall, training seconds, peak memory and scoring throughput.
"""

import argparse
import os
import resource
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saleor_personalization.standalone.settings")
os.environ.setdefault("PERSONALIZATION_HOME", str(ROOT / ".personalization" / "benchmark"))

import django  # noqa: E402

django.setup()

from saleor_personalization.features.matrices import STOPWORDS, WORD  # noqa: E402
from saleor_personalization.recommender.data import EventRows, build_interactions  # noqa: E402
from saleor_personalization.recommender.evaluation import (  # noqa: E402
    evaluate,
    item_knn_scorer,
    make_holdout,
    popularity_scorer,
    repurchase_scorer,
)
from saleor_personalization.recommender.model import BlendWeights, ModelParams  # noqa: E402
from saleor_personalization.recommender.training import (  # noqa: E402
    FeatureSource,
    fit_model,
    model_scorer,
    train_and_evaluate,
)
from saleor_personalization.standalone.datasets import find_online_retail  # noqa: E402
from saleor_personalization.standalone.order_export import (  # noqa: E402
    CleaningReport,
    clean_order_lines,
    country_code,
    read_order_export,
)


def load_dataset(path: Path):
    report = CleaningReport()
    product_codes: dict[str, int] = {}
    names: dict[int, str] = {}
    countries: dict[int, Counter] = defaultdict(Counter)
    seen = set()
    rows = []
    for line in clean_order_lines(read_order_export(path, report=report), report):
        product = product_codes.setdefault(line.stock_code, len(product_codes) + 1)
        names.setdefault(product, line.description)
        countries[line.customer_id][line.country] += 1
        key = (line.customer_id, product, line.invoice)
        if key in seen:
            continue
        seen.add(key)
        rows.append((line.customer_id, product, "purchase", line.invoice, line.invoiced_at))
    customer_country = {c: country_code(n.most_common(1)[0][0]) for c, n in countries.items()}
    return EventRows.from_tuples(rows), names, customer_country


def feature_source(names: dict[int, str], countries: dict[int, str]) -> FeatureSource:
    def items(ids):
        out = []
        for product in ids:
            words = {w.lower() for w in WORD.findall(names.get(int(product), ""))} - STOPWORDS
            out.append([f"item:{int(product)}", *(f"word:{w}" for w in sorted(words))])
        return out

    def customers(ids):
        return [
            [f"user:{int(c)}", *([f"country:{countries[int(c)]}"] if countries.get(int(c)) else [])]
            for c in ids
        ]

    return FeatureSource(items=items, customers=customers)


def als_scorer(data, threads: int):
    try:
        import implicit
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    with threadpool_limits(1, "blas"):
        model = implicit.als.AlternatingLeastSquares(
            factors=128, regularization=0.05, iterations=20, num_threads=threads, random_state=0
        )
        model.fit(data.baskets.astype(np.float32) * 10, show_progress=False)
    users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)

    def score(d, rows):
        return users[rows] @ items.T

    return score


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--fast", action="store_true", help="fewer epochs, for a quick look")
    args = parser.parse_args()
    path = args.data or find_online_retail(ROOT)
    if path is None:
        sys.exit("Online Retail dataset not found; pass --data PATH")

    clock = time.monotonic()
    events, names, countries = load_dataset(path)
    print(f"loaded {len(events):,} purchases in {time.monotonic() - clock:.1f}s")
    features = feature_source(names, countries)
    params = ModelParams()
    if args.fast:
        params = replace(params, factorisation=replace(params.factorisation, epochs=5))

    end = events.last_time + timedelta(seconds=1)
    cut = end - timedelta(weeks=params.holdout_weeks)
    clock = time.monotonic()
    outcome = train_and_evaluate(events, params, end=end, features=features, final_fit=False)
    total = time.monotonic() - clock
    model = outcome.model
    holdout = make_holdout(
        build_interactions(events, as_of=cut, decay_days=params.decay_days),
        events.between(cut, end),
    )

    table = []

    def add(name, scorer_all, scorer_new=None):
        row = [name, evaluate(holdout, scorer_all, protocol="all", with_auc=False)]
        row.append(
            evaluate(holdout, scorer_new or scorer_all, protocol="new", with_auc=False)
            if scorer_new is not False
            else None
        )
        table.append(row)

    add("popularity", popularity_scorer(model.popularity))
    add("re-recommend own purchases", repurchase_scorer(model.popularity), False)
    add("item-kNN cosine", item_knn_scorer(holdout.data))
    als = als_scorer(holdout.data, params.factorisation.threads)
    if als is not None:
        add("implicit ALS (128 factors)", als)
    plain = replace(
        model, weights_all=BlendWeights(0, 0, 1, 0), weights_new=BlendWeights(0, 0, 1, 0)
    )
    add(
        "LightFM hybrid alone",
        model_scorer(plain, events, cut, features=features),
        model_scorer(plain, events, cut, discovery=True, features=features),
    )
    add(
        "this project (blend)",
        model_scorer(model, events, cut, features=features),
        model_scorer(model, events, cut, discovery=True, features=features),
    )

    print()
    print(f"holdout {cut:%Y-%m-%d}..{end:%Y-%m-%d}, {len(holdout.truth)} customers")
    header = (
        f"{'model':<30} {'all NDCG':>9} {'P@10':>6} {'R@10':>6} {'cov':>5} {'jacc':>5}"
        f" | {'new NDCG':>9} {'P@10':>6} {'R@10':>6} {'cov':>5}"
    )
    print(header)
    print("-" * len(header))
    for name, a, n in table:
        line = (
            f"{name:<30} {a.ndcg:9.3f} {a.precision:6.3f} {a.recall:6.3f}"
            f" {a.coverage:5.2f} {a.jaccard:5.3f}"
        )
        if n is not None:
            line += f" | {n.ndcg:9.3f} {n.precision:6.3f} {n.recall:6.3f} {n.coverage:5.2f}"
        print(line)
    cold = outcome.metrics["cold_items"]
    print()
    print(f"tuning on the validation window: {outcome.metrics['tuning']}")
    print(f"weights (all): {model.weights_all.as_dict()}")
    print(f"weights (new): {model.weights_new.as_dict()}")
    print(
        f"new products: recall@10 {cold.get('recall', 0):.3f} over {cold.get('items', 0)} "
        f"products unseen in training ({cold.get('customers', 0)} customers; "
        f"random order {cold.get('random_recall', 0):.3f})"
    )
    print(
        f"AUC (all) {outcome.metrics['all']['auc']:.3f}, MAP@10 {outcome.metrics['all']['map']:.3f}"
    )

    clock = time.monotonic()
    single, _ = fit_model(events, end, params, features=features)
    train_seconds = time.monotonic() - clock
    current = build_interactions(
        events, as_of=end, item_ids=single.item_ids, user_ids=single.user_ids
    )
    user_rows = features.customers(single.user_ids)

    def score_everyone() -> float:
        clock = time.monotonic()
        for start in range(0, len(single.user_ids), 1000):
            rows = np.arange(start, min(start + 1000, len(single.user_ids)))
            feature_rows = [user_rows[r] for r in rows]
            scores = single.score(current, rows=rows, user_feature_rows=feature_rows)
            np.argpartition(scores, scores.shape[1] - 50, axis=1)[:, -50:]
        return time.monotonic() - clock

    score_everyone()  # warm-up: builds the dense co-purchase copy once per process
    score_seconds = sorted(score_everyone() for _ in range(3))[1]
    print(
        f"training on the full dataset: {train_seconds:.1f}s "
        f"({single.factorisation.epochs_run} LightFM epochs); tune+evaluate run {total:.1f}s"
    )
    print(
        f"scoring {len(single.user_ids):,} customers (top 50, median of 3): {score_seconds:.2f}s, "
        f"{len(single.user_ids) / score_seconds:,.0f} customers/s"
    )
    print(f"peak memory: {peak_memory_mb():,.0f} MB")


if __name__ == "__main__":
    main()
