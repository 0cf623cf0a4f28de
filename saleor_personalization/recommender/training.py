"""Fit, tune and evaluate a model from the interaction log.

One training run:

1. **tune**: fit on everything before the validation window (the ``holdout_weeks``
   before the holdout) and pick the blend weights that rank that window best;
2. **evaluate**: fit on everything before the holdout (the last ``holdout_weeks``) with
   those weights and measure it, the popularity baseline and the live model there;
3. **final**: fit on everything, which is what gets stored and served.

The evaluation fit trains while the weights are tuned and the final fit while the
evaluation runs: a fit needs no weights (they are set on the fitted model after).
"""

import itertools
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from ..features.matrices import FeatureSource, FeatureSpace, build_feature_space
from .components import copurchase_weights, popularity, repeat_rate
from .data import EventRows, InteractionData, build_interactions, positions
from .evaluation import (
    Holdout,
    K,
    ListTally,
    TruthBatch,
    evaluate,
    evaluate_protocols,
    make_holdout,
    popularity_scorer,
)
from .factorisation import train_factorisation
from .for_you_shortlist import for_you_shortlist
from .model import BlendWeights, ModelParams, RecommenderModel, shared_features
from .ranking import (
    RECENTLY_BOUGHT_DAYS,
    NewProducts,
    buy_again_shortlist,
    rank,
    reorder_mask,
    top_columns,
)
from .reorder import fit_reorder

logger = logging.getLogger(__name__)


class NotEnoughData(Exception):
    """Too little history to train or evaluate; the message says what is missing."""


def trend_vector(events: EventRows, item_ids: np.ndarray, as_of: datetime, days: int) -> np.ndarray:
    """Recent purchases and cart adds per product, scaled to [0, 1]."""
    recent = events.between(as_of - timedelta(days=days), as_of)
    index = {int(p): k for k, p in enumerate(item_ids)}
    counts = np.zeros(len(item_ids), dtype=np.float32)
    for product in recent.products:
        k = index.get(int(product))
        if k is not None:
            counts[k] += 1
    top = counts.max() if len(counts) else 0
    return counts / top if top else counts


def first_buyer_vector(
    events: EventRows, item_ids: np.ndarray, as_of: datetime, days: int
) -> np.ndarray:
    """Per product, the customers whose first purchase of it (before ``as_of``) fell in
    the last ``days``: what customers are discovering now, where :func:`trend_vector`
    also counts what they reorder."""
    purchases = events.before(as_of).purchases()
    counts = np.zeros(len(item_ids), dtype=np.float32)
    if not len(purchases):
        return counts
    customers, products, times = purchases.customers, purchases.products, purchases.times
    order = np.lexsort((times, products, customers))
    customers, products, times = customers[order], products[order], times[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (customers[1:] != customers[:-1]) | (products[1:] != products[:-1])
    since = as_of.timestamp() - days * 86_400.0
    cols = positions(np.asarray(item_ids, dtype=np.int64), products[first & (times >= since)])
    np.add.at(counts, cols[cols >= 0], 1.0)
    return counts


@dataclass(frozen=True)
class FitInputs:
    """What a fit reads: the history before its cut-off and the features of its products
    and customers (read from the database by default, so in the caller's thread)."""

    data: InteractionData
    item_space: FeatureSpace
    user_space: FeatureSpace
    shared_items: list[list[str]]  # each product's features less its id (shared_features)


def fit_inputs(
    events: EventRows, as_of: datetime, params: ModelParams, features: FeatureSource
) -> FitInputs:
    data = build_interactions(events, as_of=as_of, decay_days=params.decay_days)
    if data.shape[0] < 2 or data.shape[1] < 2:
        raise NotEnoughData(
            f"{data.shape[0]} customers and {data.shape[1]} products with events before "
            f"{as_of:%Y-%m-%d}; at least 2 of each are needed"
        )
    item_rows = features.items(data.item_ids)
    return FitInputs(
        data=data,
        item_space=build_feature_space(item_rows),
        user_space=build_feature_space(features.customers(data.user_ids)),
        shared_items=shared_features(item_rows),
    )


def fit_model(
    events: EventRows,
    as_of: datetime,
    params: ModelParams,
    *,
    weights_all: BlendWeights | None = None,
    weights_new: BlendWeights | None = None,
    features: FeatureSource | None = None,
    inputs: FitInputs | None = None,
) -> tuple[RecommenderModel, InteractionData]:
    """A model fitted on ``events`` before ``as_of``; with ``inputs`` (from
    :func:`fit_inputs`) it reads no database and may run in any thread."""
    inputs = inputs or fit_inputs(events, as_of, params, features or FeatureSource())
    data, item_space, user_space = inputs.data, inputs.item_space, inputs.user_space
    # One step after another: LightFM in a thread beside the co-purchase and reorder
    # models was slower on the export (78.6 s against 63.0 s for the final fit, the same
    # load): LightFM's two threads and the inverse's BLAS threads then share two cores.
    factorisation = train_factorisation(data.weights, user_space, item_space, params.factorisation)
    shared_vectors, _ = factorisation.vectors_from_features(inputs.shared_items, kind="item")
    model = RecommenderModel(
        item_ids=data.item_ids,
        user_ids=data.user_ids,
        factorisation=factorisation,
        copurchase=copurchase_weights(
            data,
            regularisation=params.copurchase_regularisation,
            max_items=params.copurchase_max_items,
            neighbours=params.copurchase_neighbours,
            half_life_days=params.copurchase_half_life_days,
        ),
        repeat_rates=repeat_rate(data),
        trend=trend_vector(events, data.item_ids, as_of, params.trend_days),
        popularity=popularity(data),
        weights_all=weights_all or BlendWeights(),
        weights_new=weights_new or BlendWeights(repeat=0.0),
        params=params,
        as_of=as_of,
        reorder=fit_reorder(events, data, params.holdout_weeks, params),
        first_buyers=first_buyer_vector(events, data.item_ids, as_of, params.trend_days),
        item_feature_vectors=shared_vectors,
    )
    return model, data


def history_as_of(
    model: RecommenderModel, events: EventRows, as_of: datetime, users: np.ndarray
) -> InteractionData:
    """These customers' history as of ``as_of``, over the model's products."""
    return build_interactions(
        events,
        as_of=as_of,
        item_ids=model.item_ids,
        user_ids=users,
        decay_days=model.params.decay_days,
    )


def served_scorer(
    model: RecommenderModel,
    events: EventRows,
    as_of: datetime,
    *,
    features: FeatureSource | None = None,
):
    """Score any evaluation matrix's customers for both lists as they are served.

    Through :func:`.ranking.rank`, the function the list writer calls: the
    recent-purchase rule and the exclusion of owned products included. Returns the
    scores by protocol: ``"all"`` is *buy again*, ``"new"`` is *for you*. Products the
    model does not know score ``-inf``; history is taken as of ``as_of``.
    """
    features = features or FeatureSource()

    def score(data: InteractionData, rows: np.ndarray) -> dict[str, np.ndarray]:
        users = data.user_ids[rows]
        current = history_as_of(model, events, as_of, users)
        ranked = rank(model, current, np.arange(len(users)), features.customers(users))
        return {
            "all": _on_columns(ranked.buy_again, model, data),
            "new": _on_columns(ranked.for_you, model, data),
        }

    return score


def _on_columns(scores: np.ndarray, model: RecommenderModel, data: InteractionData) -> np.ndarray:
    """The model's scores laid out over ``data``'s products (``-inf`` for unknown ones)."""
    if data.item_ids is model.item_ids or np.array_equal(data.item_ids, model.item_ids):
        return scores
    out = np.full((len(scores), data.shape[1]), -np.inf, dtype=np.float32)
    for col, item in enumerate(data.item_ids):
        k = model.item_index.get(int(item))
        if k is not None:
            out[:, col] = scores[:, k]
    return out


def model_scorer(
    model: RecommenderModel,
    events: EventRows,
    as_of: datetime,
    *,
    discovery: bool = False,
    features: FeatureSource | None = None,
):
    """One list of :func:`served_scorer`: *buy again*, or *for you* with ``discovery``."""
    both = served_scorer(model, events, as_of, features=features)
    protocol = "new" if discovery else "all"

    def score(data: InteractionData, rows: np.ndarray) -> np.ndarray:
        return both(data, rows)[protocol]

    return score


WEIGHT_GRID = {
    "repeat": (0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
    "copurchase": (1.0,),
    "factorisation": (0.0, 0.3, 0.6),
    "trend": (0.0, 0.15, 0.3, 0.6, 0.9),
    "popularity": (0.0,),
    "first_buyers": (0.0,),
}
# Validation customers whose components are held at once while tuning (memory: each of
# the three per-customer components is this many rows by the catalogue, in float32).
TUNE_BATCH = 250


def weight_grid(protocol: str) -> list[BlendWeights]:
    """The weightings tuning tries for a protocol's lists."""
    grid = dict(WEIGHT_GRID)
    if protocol == "new":
        grid["repeat"] = (0.0,)  # owned products are not ranked in discovery
        # Discovery should lean on the customer's own taste, not on what is hot.
        grid["trend"] = tuple(w for w in grid["trend"] if w <= 0.6)
        # ...and may push bestsellers down to show more of the catalogue. The range
        # reaches past -1.5, the old grid's end, which validation chose in every
        # recorded run: an optimum at the grid's edge is no optimum. (A grid wider
        # still, LightFM to 2.0 and popularity to -4, ranked no better on windows
        # before the benchmark's holdouts and took twice the tuning time.)
        grid["popularity"] = (0.0, -0.6, -1.0, -1.5, -2.0, -3.0)
        grid["factorisation"] = (*grid["factorisation"], 1.0)
        # ...and may lift what customers are buying for the first time lately.
        grid["first_buyers"] = (0.0, 0.15, 0.3, 0.6, 1.0)
    return [
        BlendWeights(**dict(zip(grid, values, strict=True)))
        for values in itertools.product(*grid.values())
    ]


def tune_weights(
    model: RecommenderModel,
    holdout: Holdout,
    *,
    events: EventRows,
    features: FeatureSource,
    max_users: int,
    min_coverage: float = 0.0,
    tolerance: float = 0.0,
) -> tuple[BlendWeights, BlendWeights, dict]:
    """Blend weights that rank the validation window best, for both protocols.

    Each weighting is judged on the lists as served (:func:`.ranking.rank`): *buy
    again* without what was just bought (unless reordered), *for you* without anything
    owned, and with the products first sold in the window (unknown to the model, as
    products created since training are to a live one) scored from their features in
    the same ranking and counted in the truth, as the benchmark judges the served
    lists: tuning without them chose *for you* weights for a list in which new
    products never competed. The components are computed once per batch of
    customers, and every weighting ranks only the batch's shortlists
    (:class:`.ranking.Shortlist`), which give the same top lists as ranking the whole
    catalogue.
    """
    rows = np.array(sorted(set(holdout.truth) | set(holdout.cold_truth)), dtype=np.int64)
    if len(rows) > max_users:
        rows = np.sort(np.random.default_rng(0).choice(rows, max_users, replace=False))
    if not len(rows):
        raise NotEnoughData("no customer bought anything in the validation window")
    users = holdout.data.user_ids[rows]
    current = history_as_of(model, events, model.as_of, users)
    reorder = reorder_mask(model)
    fresh = NewProducts.from_features(
        model, holdout.cold_item_ids, features.items(holdout.cold_item_ids)
    )
    columns = len(model.item_ids) + len(fresh)
    grids = {protocol: weight_grid(protocol) for protocol in ("all", "new")}
    tallies = {protocol: [ListTally(columns) for _ in grid] for protocol, grid in grids.items()}
    for start in range(0, len(users), TUNE_BATCH):
        batch = np.arange(start, min(start + TUNE_BATCH, len(users)))
        parts = model.components(
            current,
            features.customers(users[batch]),
            batch,
            new_items=(fresh.vectors, fresh.biases) if len(fresh) else None,
        )
        bought = [_validation_truth(holdout, int(r), fresh, model) for r in rows[batch]]
        owned = current.baskets[batch]
        new = [t - set(owned[j].indices.tolist()) for j, t in enumerate(bought)]
        shortlists = {
            "all": buy_again_shortlist(parts, current, batch, reorder, RECENTLY_BOUGHT_DAYS),
            "new": for_you_shortlist(parts, current, batch, grids["new"]),
        }
        truths = {"all": TruthBatch.of(bought, columns), "new": TruthBatch.of(new, columns)}
        for protocol, shortlist in shortlists.items():
            for weights, tally in zip(grids[protocol], tallies[protocol], strict=True):
                tally.add(shortlist.top(weights, K), truths[protocol])

    results: dict[str, tuple[float, float, BlendWeights]] = {}
    for protocol, grid in grids.items():
        candidates = [
            (tally.ndcg, tally.coverage, weights)
            for weights, tally in zip(grid, tallies[protocol], strict=True)
        ]
        results[protocol] = choose_list_weights(protocol, candidates, min_coverage, tolerance)
    details = {
        protocol: {"ndcg": round(ndcg, 4), "coverage": round(cov, 3), "weights": w.as_dict()}
        for protocol, (ndcg, cov, w) in results.items()
    }
    return results["all"][2], results["new"][2], details


def _validation_truth(
    holdout: Holdout, row: int, fresh: NewProducts, model: RecommenderModel
) -> set[int]:
    """Columns a validation customer bought: the model's products, then the products
    first sold in the window (ranked after the model's, as the served lists rank the
    products created since training)."""
    known = len(model.item_ids)
    cold = holdout.cold_truth.get(row, set())
    positions = np.searchsorted(fresh.ids, np.fromiter(cold, dtype=np.int64, count=len(cold)))
    return holdout.truth.get(row, set()) | {known + int(p) for p in positions}


def choose_list_weights(
    protocol: str,
    candidates: list[tuple[float, float, BlendWeights]],
    min_coverage: float,
    tolerance: float,
) -> tuple[float, float, BlendWeights]:
    """The weighting of one list: :func:`choose_weights` with the breadth rules where
    they belong.

    Personal lists are judged on accuracy (reorders dominate them); discovery lists
    (``"new"``) also on breadth, so only there must a weighting reach the coverage floor
    and does a near-tie go to the wider weighting. A *buy again* list holds the
    customer's own purchases, so its breadth is theirs: a floor there excluded every
    weighting that used the reorder model (the likeliest reorders are a shop's staples)
    and left co-purchase alone, the weakest weighting on the validation window.
    """
    discovery = protocol == "new"
    return choose_weights(
        candidates, min_coverage if discovery else 0.0, tolerance if discovery else 0.0
    )


def choose_weights(
    candidates: list[tuple[float, float, BlendWeights]], min_coverage: float, tolerance: float
) -> tuple[float, float, BlendWeights]:
    """The widest-covering weighting among those ranking within ``tolerance`` of the best.

    Lists must stay personal: only weightings that reach ``min_coverage`` compete (all
    of them if none does). NDCG differences inside the tolerance are validation noise,
    so among those the one that shows more of the catalogue wins.
    """
    eligible = [c for c in candidates if c[1] >= min_coverage] or candidates
    best = max(ndcg for ndcg, _, _ in eligible)
    close = [c for c in eligible if c[0] >= best * (1 - tolerance)]
    return max(close, key=lambda c: (c[1], c[0]))


@dataclass
class TrainingOutcome:
    model: RecommenderModel
    metrics: dict
    data_window_start: datetime
    data_window_end: datetime
    holdout_start: datetime
    seconds: dict = field(default_factory=dict)


def train_and_evaluate(
    events: EventRows,
    params: ModelParams,
    *,
    end: datetime | None = None,
    live_model: RecommenderModel | None = None,
    features: FeatureSource | None = None,
    final_fit: bool = True,
) -> TrainingOutcome:
    try:
        return _train_and_evaluate(
            events,
            params,
            end=end,
            live_model=live_model,
            features=features,
            final_fit=final_fit,
        )
    except NotEnoughData as exc:
        raise NotEnoughData(
            f"{exc}. {training_requirement(params)}; {history_summary(events)}"
        ) from None


def training_requirement(params: ModelParams) -> str:
    """What a shop must have before the first model, in the merchant's terms."""
    weeks = params.holdout_weeks
    return (
        f"Training needs orders by signed-in customers spanning more than {2 * weeks} weeks: "
        f"purchases by at least 2 customers before the last {2 * weeks} weeks, and customers "
        f"who buy again in each of the two {weeks}-week windows (the last {weeks} weeks "
        f"evaluate the model, the {weeks} before them tune it)"
    )


def history_summary(events: EventRows) -> str:
    purchases = events.purchases()
    if not len(purchases):
        return "the shop has no orders by signed-in customers yet"
    days = (purchases.times.max() - purchases.times.min()) / 86_400
    return (
        f"the shop has {len(np.unique(purchases.baskets))} orders by "
        f"{len(np.unique(purchases.customers))} signed-in customers over {days:.0f} days"
    )


def _train_and_evaluate(
    events: EventRows,
    params: ModelParams,
    *,
    end: datetime | None,
    live_model: RecommenderModel | None,
    features: FeatureSource | None,
    final_fit: bool,
) -> TrainingOutcome:
    features = features or FeatureSource()
    if not len(events.purchases()):
        raise NotEnoughData("no orders by signed-in customers")
    end = end or (events.last_time + timedelta(seconds=1))
    start = events.first_time
    holdout_start = end - timedelta(weeks=params.holdout_weeks)
    validation_start = holdout_start - timedelta(weeks=params.holdout_weeks)
    if validation_start <= start:
        raise NotEnoughData(
            f"customer history from {start:%Y-%m-%d} to {end:%Y-%m-%d} is "
            f"{(end - start).days} days, not more than {2 * params.holdout_weeks} weeks"
        )
    timings: dict[str, float] = {}
    # The evaluation and final fits need no tuned weights (they are set on the fitted
    # model), so each trains in a thread beside the steps before it (tuning, then
    # evaluation), which are mostly on one core. ``fit`` and ``final_fit`` are their own
    # durations, spent beside those steps; ``*_wait`` what was left to wait for.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fit") as fits:
        clock = time.monotonic()
        tuning_model, tuning_data = fit_model(events, validation_start, params, features=features)
        timings["tune_fit"] = time.monotonic() - clock
        inputs = fit_inputs(events, holdout_start, params, features)
        evaluation_fit = fits.submit(
            _timed, fit_model, events, holdout_start, params, inputs=inputs
        )

        clock = time.monotonic()
        validation = make_holdout(tuning_data, events.between(validation_start, holdout_start))
        weights_all, weights_new, tuning = tune_weights(
            tuning_model,
            validation,
            events=events,
            features=features,
            max_users=params.tune_users,
            min_coverage=params.min_coverage,
            tolerance=params.tuning_tolerance,
        )
        timings["tune"] = time.monotonic() - clock
        del tuning_model, tuning_data, validation

        (fitted, eval_data), timings["fit"], timings["fit_wait"] = _waited(evaluation_fit)
        eval_model = replace(fitted, weights_all=weights_all, weights_new=weights_new)
        holdout = make_holdout(eval_data, events.between(holdout_start, end))
        if not holdout.truth:
            raise NotEnoughData("no customer seen before the holdout bought anything in it")
        final: Future | None = None
        if final_fit:
            inputs = fit_inputs(events, end, params, features)
            final = fits.submit(_timed, fit_model, events, end, params, inputs=inputs)

        clock = time.monotonic()
        metrics = {
            "tuning": tuning,
            "holdout_customers": len(holdout.truth),
            "reorder_model": eval_model.reorder is not None,
        }
        served = evaluate_protocols(
            holdout, served_scorer(eval_model, events, holdout_start, features=features)
        )
        for protocol in ("all", "new"):
            metrics[protocol] = served[protocol].as_dict()
            metrics[f"popularity_{protocol}"] = evaluate(
                holdout, popularity_scorer(eval_model.popularity), protocol=protocol
            ).as_dict()
        timings["evaluate"] = time.monotonic() - clock
        clock = time.monotonic()
        metrics["new_products"] = _new_product_metrics(
            eval_model, events, holdout, holdout_start, features
        )
        timings["new_products"] = time.monotonic() - clock
        clock = time.monotonic()
        metrics["live"] = _live_metrics(
            live_model, eval_model, events, holdout, holdout_start, features
        )
        timings["live"] = time.monotonic() - clock

        model = eval_model
        if final is not None:
            (fitted, _), timings["final_fit"], timings["final_wait"] = _waited(final)
            model = replace(fitted, weights_all=weights_all, weights_new=weights_new)
    metrics["seconds"] = {name: round(value, 1) for name, value in timings.items()}
    return TrainingOutcome(
        model=model,
        metrics=metrics,
        data_window_start=start,
        data_window_end=end,
        holdout_start=holdout_start,
        seconds=timings,
    )


def _timed(fit, *args, **kwargs) -> tuple[tuple[RecommenderModel, InteractionData], float]:
    """``fit(*args, **kwargs)`` and how long it took."""
    clock = time.monotonic()
    fitted = fit(*args, **kwargs)
    return fitted, time.monotonic() - clock


def _waited(future: Future) -> tuple[tuple[RecommenderModel, InteractionData], float, float]:
    """A :func:`_timed` fit's result and duration, and how long it was waited for."""
    clock = time.monotonic()
    fitted, seconds = future.result()
    return fitted, seconds, time.monotonic() - clock


def _new_product_metrics(
    model: RecommenderModel,
    events: EventRows,
    holdout: Holdout,
    holdout_start: datetime,
    features: FeatureSource,
) -> dict:
    """Products first sold in the holdout, as the served *for you* lists treat them.

    They exist at the cut-off with their features, are scored from them in the same
    ranking as every other product (:func:`.ranking.rank`), and are judged by how many
    customers' top 10 show one and how many of the customers who then bought one had
    it there, against the same places filled at random among the new products.
    """
    new_ids = holdout.cold_item_ids
    if not len(new_ids):
        return {"products": 0}
    new = NewProducts.from_features(model, new_ids, features.items(new_ids))
    rows = np.array(sorted(set(holdout.truth) | set(holdout.cold_truth)), dtype=np.int64)
    users = holdout.data.user_ids[rows]
    current = history_as_of(model, events, holdout_start, users)
    showing, recalls, random = 0, [], []
    for start in range(0, len(rows), 1000):
        chunk = np.arange(start, min(start + 1000, len(rows)))
        ranked = rank(model, current, chunk, features.customers(users[chunk]), new=new)
        for j, cols in enumerate(top_columns(ranked.for_you, 10)):
            shown = {int(ranked.item_ids[c]) for c in cols if c >= ranked.known}
            showing += bool(shown)
            bought = holdout.cold_truth.get(int(rows[chunk[j]]))
            if bought:
                recalls.append(len(shown & bought) / len(bought))
                random.append(len(shown) / len(new_ids))
    return {
        "products": len(new_ids),
        "lists": len(rows),
        "share": round(showing / len(rows), 4),
        "buyers": len(recalls),
        "recall": round(float(np.mean(recalls)), 4) if recalls else 0.0,
        "random_recall": round(float(np.mean(random)), 4) if random else 0.0,
    }


def _live_metrics(
    live_model: RecommenderModel | None,
    candidate: RecommenderModel,
    events: EventRows,
    holdout: Holdout,
    holdout_start: datetime,
    features: FeatureSource,
) -> dict | None:
    """The live model's settings judged on this run's holdout, beside the candidate.

    A figure the live model recorded at its own training comes from an older holdout:
    set against a new run's it compares two windows, not two models. So the live
    model's parameters and blend weights are fitted on the same data before the same
    holdout as the candidate. With the candidate's parameters only the weights differ
    and the candidate's fit is reused; otherwise the live settings are refitted.
    """
    if live_model is None:
        return None
    if live_model.params == candidate.params:
        twin = replace(
            candidate, weights_all=live_model.weights_all, weights_new=live_model.weights_new
        )
        source = "live model's blend weights on this run's fit and holdout"
    else:
        twin, _ = fit_model(
            events,
            holdout_start,
            live_model.params,
            weights_all=live_model.weights_all,
            weights_new=live_model.weights_new,
            features=features,
        )
        source = "live model's settings refitted on this run's training window and holdout"
    served = evaluate_protocols(
        holdout, served_scorer(twin, events, holdout_start, features=features), with_auc=False
    )
    return {"source": source, **{protocol: served[protocol].as_dict() for protocol in served}}
