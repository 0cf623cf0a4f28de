"""Offline evaluation on a temporal holdout.

Customers seen before the cut are ranked with what was known at the cut; what they
bought after it is the truth. Two protocols:

- ``all``: every product counts, reorders included (what a "for you" list must get
  right in a shop whose customers reorder);
- ``new``: products the customer already bought are removed from ranking and truth
  (discovery).
"""

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .components import keep_strongest
from .data import EventRows, InteractionData

K = 10
Scorer = Callable[[InteractionData, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Holdout:
    """Truth per customer row of ``data``: product columns bought in the holdout."""

    data: InteractionData
    truth: dict[int, set[int]]
    cold_truth: dict[int, set[int]]
    cold_item_ids: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        return np.array(sorted(self.truth), dtype=np.int64)


def make_holdout(train: InteractionData, holdout_events: EventRows) -> Holdout:
    purchases = holdout_events.purchases()
    truth: dict[int, set[int]] = defaultdict(set)
    cold: dict[int, set[int]] = defaultdict(set)
    cold_items: set[int] = set()
    for customer, product in zip(purchases.customers, purchases.products, strict=True):
        row = train.user_index.get(int(customer))
        if row is None:
            continue
        col = train.item_index.get(int(product))
        if col is None:
            cold[row].add(int(product))
            cold_items.add(int(product))
        else:
            truth[row].add(col)
    return Holdout(
        data=train,
        truth=dict(truth),
        cold_truth=dict(cold),
        cold_item_ids=np.array(sorted(cold_items), dtype=np.int64),
    )


def top_k(scores: np.ndarray, k: int = K) -> np.ndarray:
    k = min(k, scores.shape[1])
    part = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


@dataclass
class Metrics:
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    auc: float
    jaccard: float
    users: int

    def as_dict(self) -> dict[str, float]:
        return {name: round(float(value), 4) for name, value in self.__dict__.items()}


def evaluate(
    holdout: Holdout,
    scorer: Scorer,
    *,
    protocol: str = "all",
    k: int = K,
    batch: int = 1000,
    max_users: int | None = None,
    with_auc: bool = True,
    with_overlap: bool = True,
    seed: int = 0,
) -> Metrics:
    """Ranking quality of ``scorer`` for the holdout's customers.

    Weight tuning reads only NDCG and coverage, so it can turn the AUC and the list
    overlap off (most of the time spent).
    """

    def both(data: InteractionData, rows: np.ndarray) -> dict[str, np.ndarray]:
        return {protocol: scorer(data, rows)}

    return evaluate_protocols(
        holdout,
        both,
        protocols=(protocol,),
        k=k,
        batch=batch,
        max_users=max_users,
        with_auc=with_auc,
        with_overlap=with_overlap,
        seed=seed,
    )[protocol]


def evaluate_protocols(
    holdout: Holdout,
    scorer: Callable[[InteractionData, np.ndarray], dict[str, np.ndarray]],
    *,
    protocols: Sequence[str] = ("all", "new"),
    k: int = K,
    batch: int = 1000,
    max_users: int | None = None,
    with_auc: bool = True,
    with_overlap: bool = True,
    seed: int = 0,
) -> dict[str, Metrics]:
    """:func:`evaluate` for several protocols in one pass over the customers.

    ``scorer`` returns each protocol's scores for a batch: a model that ranks both
    lists at once (:func:`.ranking.rank`) is then called once per batch, not once per
    protocol.
    """
    for protocol in protocols:
        if protocol not in {"all", "new"}:
            raise ValueError(f"unknown protocol {protocol!r}; use 'all' or 'new'")
    data = holdout.data
    rows = holdout.rows
    if max_users is not None and len(rows) > max_users:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_users, replace=False))
    tallies = {protocol: _MetricsTally(holdout, protocol, k, with_auc) for protocol in protocols}
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        scores = scorer(data, chunk)
        for protocol, tally in tallies.items():
            tally.add(chunk, np.asarray(scores[protocol]))
    return {
        protocol: tally.metrics(with_overlap=with_overlap, seed=seed)
        for protocol, tally in tallies.items()
    }


class _MetricsTally:
    """One protocol's per-customer figures, added batch by batch."""

    def __init__(self, holdout: Holdout, protocol: str, k: int, with_auc: bool) -> None:
        self.holdout, self.protocol, self.k, self.with_auc = holdout, protocol, k, with_auc
        self.discount = 1.0 / np.log2(np.arange(2, k + 2))
        self.ndcgs, self.precisions, self.recalls, self.maps, self.aucs = [], [], [], [], []
        self.tops: list[np.ndarray] = []
        self.recommended: set[int] = set()

    def add(self, chunk: np.ndarray, scores: np.ndarray) -> None:
        k, discount = self.k, self.discount
        # A copy (owned products are masked in place), in the scorer's float precision:
        # ranking float32 scores as float32 gives the same order in half the time.
        scores = scores.astype(np.float32 if scores.dtype == np.float32 else np.float64)
        owned = self.holdout.data.baskets[chunk]
        if self.protocol == "new":
            coo = owned.tocoo()
            scores[coo.row, coo.col] = -np.inf
        ranked = top_k(scores, k)
        # A list shorter than k (a buy-again list of a customer with few purchases) is
        # padded by top_k with -inf products nobody is shown: they are neither hits nor
        # coverage, as in the served list.
        shown = np.take_along_axis(scores, ranked, axis=1) > -np.inf
        for j, row in enumerate(chunk):
            truth = self.holdout.truth[row]
            if self.protocol == "new":
                truth = truth - set(owned[j].indices.tolist())
            if not truth:
                continue
            top = ranked[j][shown[j]]
            hits = np.fromiter((c in truth for c in top), dtype=bool, count=len(top))
            ideal = discount[: min(len(truth), k)].sum()
            self.ndcgs.append(float((hits * discount[: len(hits)]).sum() / ideal))
            self.precisions.append(hits.sum() / k)
            self.recalls.append(hits.sum() / len(truth))
            cumulative = np.cumsum(hits) / np.arange(1, len(hits) + 1)
            self.maps.append(float((cumulative * hits).sum() / min(len(truth), k)))
            if self.with_auc:
                self.aucs.append(_auc(scores[j], truth))
            self.tops.append(top)
            self.recommended.update(top.tolist())

    def metrics(self, *, with_overlap: bool, seed: int) -> Metrics:
        catalogue = self.holdout.data.shape[1]
        return Metrics(
            precision=_mean(self.precisions),
            recall=_mean(self.recalls),
            ndcg=_mean(self.ndcgs),
            map=_mean(self.maps),
            coverage=len(self.recommended) / catalogue if catalogue else 0.0,
            auc=_mean(self.aucs),
            jaccard=mean_pairwise_jaccard(self.tops, seed=seed) if with_overlap else 0.0,
            users=len(self.ndcgs),
        )


@dataclass(frozen=True)
class TruthBatch:
    """What a batch of customers bought in the holdout, to score their top lists at once."""

    keys: np.ndarray  # sorted ``row * columns + column`` of every product bought
    ideal: np.ndarray  # per row, the best DCG@k a list can reach; 0: no truth, not counted
    columns: int

    @classmethod
    def of(cls, truth: Sequence[set[int]], columns: int, k: int = K) -> "TruthBatch":
        sizes = np.fromiter((len(t) for t in truth), dtype=np.int64, count=len(truth))
        rows = np.repeat(np.arange(len(truth)), sizes)
        cols = np.fromiter(itertools.chain.from_iterable(truth), dtype=np.int64, count=sizes.sum())
        reachable = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))]
        return cls(
            keys=np.sort(rows * columns + cols),
            ideal=reachable[np.minimum(sizes, k)],
            columns=columns,
        )

    def hits(self, top: np.ndarray) -> np.ndarray:
        """Which entries of each row's list (columns, -1 past its end) were bought."""
        keys = np.arange(len(top))[:, np.newaxis] * self.columns + top
        if not len(self.keys):
            return np.zeros(top.shape, dtype=bool)
        found = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return (self.keys[found] == keys) & (top >= 0)


@dataclass
class ListTally:
    """NDCG@k and catalogue coverage of top lists, added up batch by batch.

    The two figures weight tuning reads for each weighting of its grid, as
    :func:`evaluate` computes them, from the lists' columns alone: no batch's scores
    are kept. Customers with no truth are not counted, nor are their lists.
    """

    catalogue: int
    ndcg_total: float = 0.0
    users: int = 0
    shown: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.shown = np.zeros(self.catalogue, dtype=bool)

    def add(self, top: np.ndarray, truth: TruthBatch) -> None:
        counted = truth.ideal > 0
        discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
        gains = (truth.hits(top) * discount).sum(axis=1)
        self.ndcg_total += float((gains[counted] / truth.ideal[counted]).sum())
        self.users += int(counted.sum())
        listed = top[counted]
        self.shown[listed[listed >= 0]] = True

    @property
    def ndcg(self) -> float:
        return self.ndcg_total / self.users if self.users else 0.0

    @property
    def coverage(self) -> float:
        return float(self.shown.sum()) / self.catalogue if self.catalogue else 0.0


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def _auc(scores: np.ndarray, truth: set[int]) -> float:
    """Chance a bought product outranks one not bought (ties count half), from the
    negatives sorted once: the Mann-Whitney statistic the average ranks give, without
    ranking a whole catalogue's scores per customer."""
    finite = np.isfinite(scores)
    positives = np.zeros(len(scores), dtype=bool)
    positives[list(truth)] = True
    positives &= finite
    n_pos, n_neg = positives.sum(), (finite & ~positives).sum()
    if not n_pos or not n_neg:
        return 0.5
    negatives = np.sort(scores[finite & ~positives])
    bought = scores[positives]
    below = np.searchsorted(negatives, bought, side="left")
    not_above = np.searchsorted(negatives, bought, side="right")
    return float((below.sum() + not_above.sum()) / 2 / (n_pos * n_neg))


def mean_pairwise_jaccard(lists: list[np.ndarray], *, pairs: int = 3000, seed: int = 0) -> float:
    """Mean overlap of two customers' top lists: 1 means everyone sees the same list."""
    if len(lists) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    sets = [set(map(int, items)) for items in lists]
    total = 0.0
    for _ in range(pairs):
        a, b = rng.choice(len(sets), 2, replace=False)
        union = sets[a] | sets[b]
        total += len(sets[a] & sets[b]) / len(union) if union else 0.0
    return total / pairs


def popularity_scorer(popularity: np.ndarray) -> Scorer:
    def score(data: InteractionData, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(popularity, (len(rows), len(popularity))).copy()

    return score


def repurchase_scorer(popularity: np.ndarray, half_life_days: float = 60.0) -> Scorer:
    """Re-recommend the customer's own purchases, most frequent and recent first."""

    def score(data: InteractionData, rows: np.ndarray) -> np.ndarray:
        baskets = data.baskets[rows].toarray()
        ages = data.last_purchase_age[rows].toarray()
        own = np.where(baskets > 0, baskets * np.exp2(-(ages - 1) / half_life_days), 0.0)
        return own + 1e-6 * popularity / max(popularity.max(), 1)

    return score


def item_knn_scorer(data: InteractionData, neighbours: int | None = None) -> Scorer:
    """Cosine item-kNN over who bought what; ``neighbours`` keeps each product's
    strongest links only (a cut-off that usually helps, chosen on validation)."""
    bought = (data.baskets > 0).astype(np.float32).tocsc()
    norms = np.sqrt(np.asarray(bought.multiply(bought).sum(axis=0)).ravel()) + 1e-9
    co = (bought.T @ bought).tocsr()
    co = (sp.diags(1 / norms) @ co @ sp.diags(1 / norms)).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    if neighbours is not None:
        co = keep_strongest(co, neighbours)

    def score(data: InteractionData, rows: np.ndarray) -> np.ndarray:
        return np.asarray(((data.baskets[rows] > 0).astype(np.float32) @ co).todense())

    return score


@dataclass
class ListScores:
    """Quality of served top-k lists, per customer (for paired comparisons) and overall."""

    customers: np.ndarray  # customer ids, in the order of ``ndcg``
    ndcg: np.ndarray
    recall: np.ndarray
    coverage: float
    jaccard: float

    @property
    def mean(self) -> float:
        return _mean(self.ndcg.tolist())


def list_quality(
    lists: dict[int, list[int]],
    truth: dict[int, set[int]],
    *,
    catalogue: int,
    owned: dict[int, set[int]] | None = None,
    k: int = K,
) -> ListScores:
    """NDCG@k and recall@k of lists of product ids against what each customer bought.

    ``owned`` given: the "new" protocol, what the customer owned before is not truth
    (a discovery list must find something they have not bought). Customers with no
    truth left are not counted; coverage and overlap are over the counted customers.
    """
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    customers, ndcgs, recalls, tops = [], [], [], []
    for customer in sorted(truth):
        wanted = truth[customer] - (owned.get(customer, set()) if owned is not None else set())
        if not wanted:
            continue
        top = list(lists.get(customer, []))[:k]
        hits = np.fromiter((p in wanted for p in top), dtype=bool, count=len(top))
        ideal = discount[: min(len(wanted), k)].sum()
        customers.append(customer)
        ndcgs.append(float((hits * discount[: len(hits)]).sum() / ideal))
        recalls.append(hits.sum() / len(wanted))
        tops.append(np.asarray(top))
    shown = {p for top in tops for p in top.tolist()}
    return ListScores(
        customers=np.asarray(customers, dtype=np.int64),
        ndcg=np.asarray(ndcgs, dtype=np.float64),
        recall=np.asarray(recalls, dtype=np.float64),
        coverage=len(shown) / catalogue if catalogue else 0.0,
        jaccard=mean_pairwise_jaccard(tops),
    )


def paired_bootstrap(
    a: ListScores, b: ListScores, *, rounds: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean NDCG difference ``a - b`` over the customers both count, and its 95 % CI
    from resampling customers (the same customers on both sides of each draw)."""
    common = np.intersect1d(a.customers, b.customers)
    if not len(common):
        return 0.0, 0.0, 0.0
    diff = (
        a.ndcg[np.searchsorted(a.customers, common)] - b.ndcg[np.searchsorted(b.customers, common)]
    )
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diff), size=(rounds, len(diff)))
    means = diff[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)
