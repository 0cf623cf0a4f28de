"""Learned segments: k-means over behaviour, with k chosen by silhouette.

Features per customer with orders: log recency, log order count, log spend, log
average order value (the RFM view), plus, when a model is live, the first principal
components of the customer's factorisation vector (what they buy, not only how
much). Columns are standardised so no unit dominates. k runs over 3..``max_k``;
the k with the best silhouette on a fixed sample wins. Each cluster is named from its
members' medians against fixed thresholds (days since the last order, orders; spend
against the shop's median customer), so its name is true of it.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

SILHOUETTE_SAMPLE = 2000
CLUSTER_KEY = re.compile(r"^cluster-(\d+)$")


@dataclass(frozen=True)
class ClusterProfile:
    key: str
    name: str
    description: str
    size: int
    recency_days: float
    orders: float
    spend: float


@dataclass(frozen=True)
class Clustering:
    k: int
    silhouette: float
    silhouettes: dict[int, float]
    labels: np.ndarray  # cluster index per customer, in key order (0 = cluster-1)
    profiles: list[ClusterProfile]


def standardise(matrix: np.ndarray) -> np.ndarray:
    spread = matrix.std(axis=0)
    spread[spread == 0] = 1.0
    return (matrix - matrix.mean(axis=0)) / spread


def principal_components(vectors: np.ndarray, n: int) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:n].T


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's algorithm from k-means++ seeds; returns (labels, centres)."""
    from scipy.spatial.distance import cdist  # seconds to import: only where it is used

    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        distance = cdist(points, np.array(centres), "sqeuclidean").min(axis=1)
        total = distance.sum()
        probabilities = distance / total if total > 0 else None
        centres.append(points[rng.choice(len(points), p=probabilities)])
    centres = np.array(centres)
    labels = np.zeros(len(points), dtype=np.int64)
    for step in range(iterations):
        new_labels = cdist(points, centres, "sqeuclidean").argmin(axis=1)
        if step and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for c in range(k):
            members = points[labels == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return labels, centres


def silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette, vectorised: per-cluster mean distances from one matrix product."""
    from scipy.spatial.distance import cdist

    clusters = np.unique(labels)
    if len(clusters) < 2:
        return 0.0
    onehot = (labels[:, None] == clusters[None, :]).astype(np.float64)
    counts = onehot.sum(axis=0)
    sums = cdist(points, points) @ onehot  # n x k: distance sums to each cluster
    own = np.searchsorted(clusters, labels)
    rows = np.arange(len(points))
    own_count = counts[own] - 1
    a = np.divide(sums[rows, own], own_count, out=np.zeros(len(points)), where=own_count > 0)
    means = sums / counts
    means[rows, own] = np.inf
    b = means.min(axis=1)
    scores = np.where(own_count > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(scores.mean())


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


# Cluster names are claims about the members' medians, so they use fixed thresholds
# (not quantiles over everyone, which once named a median of 4 orders "one-off").
RECENT_DAYS = 30  # last order at most this long ago: recent; beyond DORMANT_DAYS: dormant
DORMANT_DAYS = 90
FREQUENT_ORDERS = 5  # median orders: 1 one-off, 2..4 occasional, 5 and more frequent
# Spend compares with the shop's median customer (currencies and price levels differ):
# at most half of it is low-spend, at least twice it high-spend.
LOW_SPEND, HIGH_SPEND = 0.5, 2.0


def recency_word(days: float) -> str:
    return "recent" if days <= RECENT_DAYS else "dormant" if days > DORMANT_DAYS else "cooling"


def orders_word(orders: float) -> str:
    return "one-off" if orders <= 1 else "frequent" if orders >= FREQUENT_ORDERS else "occasional"


def spend_word(spend: float, shop_median: float) -> str:
    if shop_median <= 0:
        return "mid-spend"
    ratio = spend / shop_median
    return (
        "low-spend" if ratio <= LOW_SPEND else "high-spend" if ratio >= HIGH_SPEND else "mid-spend"
    )


def describe(
    index: int, recency: np.ndarray, orders: np.ndarray, spend: np.ndarray, mask: np.ndarray
) -> ClusterProfile:
    r, f, m = (float(np.median(x[mask])) for x in (recency, orders, spend))
    when, often = recency_word(r), orders_word(f)
    worth = spend_word(m, float(np.median(spend)))
    name = f"{when.capitalize()} {often} {worth} customers"
    size = int(mask.sum())
    description = (
        f"{_count(size, 'customer')}; median {_count(round(r), 'day')} since the last order, "
        f"{_count(round(f), 'order')}, {m:,.2f} spent."
    )
    return ClusterProfile(
        key=f"cluster-{index + 1}",
        name=name,
        description=description,
        size=int(mask.sum()),
        recency_days=r,
        orders=f,
        spend=m,
    )


def _distinct_names(profiles: list[ClusterProfile]) -> list[ClusterProfile]:
    """Two clusters with the same words get their median recency added to tell them apart."""
    names = [p.name for p in profiles]
    return [
        replace(p, name=f"{p.name} (~{round(p.recency_days)} days)")
        if names.count(p.name) > 1
        else p
        for p in profiles
    ]


def cluster_customers(
    recency_days: np.ndarray,
    orders: np.ndarray,
    spend: np.ndarray,
    embeddings: np.ndarray | None = None,
    *,
    min_k: int = 3,
    max_k: int = 6,
    seed: int = 7,
) -> Clustering:
    """Cluster customers; clusters come by spend, highest first, and a first run's keys
    follow that order (later runs keep the keys of the clusters they continue,
    :func:`carried_keys`).

    k starts at 3: two clusters ("good" and "the rest") usually win on silhouette
    alone but give a merchant nothing to act on.
    """
    average = np.divide(spend, orders, out=np.zeros_like(spend), where=orders > 0)
    columns = [np.log1p(np.maximum(x, 0)) for x in (recency_days, orders, spend, average)]
    features = np.column_stack(columns)
    if embeddings is not None and len(embeddings) == len(features) and embeddings.shape[1] > 1:
        features = np.column_stack([features, principal_components(embeddings, 2)])
    points = standardise(features.astype(np.float64))
    rng = np.random.default_rng(seed)
    sample = (
        rng.choice(len(points), SILHOUETTE_SAMPLE, replace=False)
        if len(points) > SILHOUETTE_SAMPLE
        else np.arange(len(points))
    )
    best: tuple[float, int, np.ndarray] | None = None
    silhouettes = {}
    for k in range(min(min_k, max_k), min(max_k, len(points) - 1) + 1):
        labels, _ = kmeans(points, k, np.random.default_rng(seed))
        if len(np.unique(labels)) < k:
            continue
        score = silhouette(points[sample], labels[sample])
        silhouettes[k] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        labels = np.zeros(len(points), dtype=np.int64)
        best = (0.0, 1, labels)
    score, k, labels = best
    by_spend = sorted(range(k), key=lambda c: -float(np.median(spend[labels == c])))
    order = {old: new for new, old in enumerate(by_spend)}
    labels = np.array([order[label] for label in labels], dtype=np.int64)
    profiles = [describe(c, recency_days, orders, spend, labels == c) for c in range(k)]
    profiles = _distinct_names(profiles)
    return Clustering(
        k=k, silhouette=float(score), silhouettes=silhouettes, labels=labels, profiles=profiles
    )


def carried_keys(
    clusters: list[set[int]], previous: dict[str, set[int]], used_keys: Iterable[str]
) -> list[str]:
    """Each new cluster's key: the key of the earlier cluster it continues, else a new one.

    Merchants target vouchers and emails at a segment by its key, so ``cluster-2`` must
    not become another group of customers when the segments are recomputed (k-means
    numbers its clusters afresh on every run). A new cluster continues an earlier one
    when each holds the majority of the other: more than half of the new cluster's
    customers who were clustered before come from it, and more than half of its
    customers still clustered now are in the new one. Counting only customers in both
    runs keeps first-time buyers and lapsed-out customers from breaking the tie between
    two runs of an otherwise stable shop. Mutual majorities pair at most one cluster
    with one, so no assignment problem is left. A cluster that continues none gets a
    number never used before (an old key may still sit in a voucher's metadata, and
    reusing it would hand that voucher to strangers).
    """
    before = {c: key for key, members in previous.items() for c in members}
    now = {c for members in clusters for c in members}
    still = {key: len(members & now) for key, members in previous.items()}
    keys: list[str | None] = []
    for members in clusters:
        counts: dict[str, int] = {}
        for customer in members:
            if customer in before:
                counts[before[customer]] = counts.get(before[customer], 0) + 1
        known = sum(counts.values())
        key = max(counts, key=counts.__getitem__, default=None)
        mutual = key is not None and 2 * counts[key] > known and 2 * counts[key] > still[key]
        keys.append(key if mutual else None)
    numbers = [int(m.group(1)) for k in [*used_keys, *previous] if (m := CLUSTER_KEY.match(k))]
    fresh = max(numbers, default=0)
    result = []
    for key in keys:
        if key is None:
            fresh += 1
            key = f"cluster-{fresh}"
        result.append(key)
    return result
