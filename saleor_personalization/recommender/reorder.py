"""Which of the products a customer bought they will buy again soon: a learned reorder model.

Re-recommending past purchases by count and recency is a strong baseline for a
*buy again* list, and a fixed blend of count and recency cannot beat it by much: how
much an old purchase still counts depends on the product (a monthly refill against a
one-off gift) and on the customer (a weekly trade buyer against a yearly one). So each
training run learns it from the shop itself: a logistic regression over every
(customer, product bought) pair, on features of the history up to a cut-off, labelled
by whether the customer bought the product again in the weeks after it. The weeks
after the cut-off are the latest ones the run may use (the fit's own data), so nothing
of a holdout the run is judged on is seen.

The score is a probability over owned products only, which is all a *buy again* list
holds (:func:`.ranking.buy_again_scores`); the blend weighs it against co-purchase,
LightFM and trend as validation decides.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp

from .components import popularity, repeat_rate
from .data import EventRows, InteractionData, build_interactions

MIN_LABELS = 50  # of each class; below this the run keeps the fixed repeat signal
MAX_PAIRS = 400_000  # a random sample beyond this: the fit stays seconds on any shop
RIDGE = 1.0


@dataclass(frozen=True)
class ReorderModel:
    """Standardisation and coefficients (intercept first) of the fitted regression."""

    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray

    def probabilities(
        self, data: InteractionData, rows: np.ndarray, rates: np.ndarray, buyers: np.ndarray
    ) -> sp.csr_matrix:
        """Chance of a reorder for every owned (row, product) of ``rows`` (sparse)."""
        pair_rows, cols, features = pair_features(data, rows, rates, buyers)
        logits = self._design(features) @ self.coefficients
        chance = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return sp.csr_matrix((chance, (pair_rows, cols)), shape=(len(rows), data.shape[1]))

    def _design(self, features: np.ndarray) -> np.ndarray:
        scaled = (features - self.mean) / self.scale
        return np.hstack([np.ones((len(features), 1)), scaled])

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "reorder_mean": self.mean,
            "reorder_scale": self.scale,
            "reorder_coefficients": self.coefficients,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "ReorderModel | None":
        if "reorder_coefficients" not in arrays:
            return None  # an artifact from before the reorder model
        return cls(
            mean=arrays["reorder_mean"],
            scale=arrays["reorder_scale"],
            coefficients=arrays["reorder_coefficients"],
        )


def pair_features(
    data: InteractionData, rows: np.ndarray, rates: np.ndarray, buyers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row position, product column, features) of every owned pair of ``rows``."""
    baskets = data.baskets[rows].tocsr()
    coo = baskets.tocoo()
    pair_rows, cols = coo.row, coo.col
    bought = coo.data.astype(np.float64)
    ages = np.asarray(data.last_purchase_age[rows][pair_rows, cols]).ravel()
    ages = np.maximum(ages.astype(np.float64), 1.0)  # stored as days + 1
    lines = np.asarray(baskets.sum(axis=1)).ravel()
    most = np.asarray(baskets.max(axis=1).todense()).ravel()
    products = np.diff(baskets.indptr)
    latest = np.full(len(rows), np.inf)
    np.minimum.at(latest, pair_rows, ages)
    features = np.column_stack(
        [
            np.log1p(bought),  # baskets with the product
            np.log(ages),  # days since the customer last bought it
            np.log1p(lines[pair_rows]),  # the customer's activity
            bought / np.maximum(most[pair_rows], 1.0),  # against their most bought product
            np.log(np.maximum(rates[cols], 1e-6)),  # the product's reorder rate
            np.log1p(buyers[cols]),  # the product's popularity
            np.log(latest[pair_rows]),  # days since the customer's last order
            np.log1p(bought) * np.log(ages),  # many purchases long ago differ from recent ones
            np.log1p(products[pair_rows]),  # how broad the customer's buying is
        ]
    )
    return pair_rows, cols, features


def fit_reorder(
    events: EventRows,
    as_of: datetime,
    weeks: int,
    item_ids: np.ndarray,
    decay_days: float,
    *,
    seed: int = 0,
) -> ReorderModel | None:
    """Learn reorders from the ``weeks`` before ``as_of``; ``None`` if too few to learn."""
    cut = as_of - timedelta(weeks=weeks)
    before = build_interactions(events, as_of=cut, item_ids=item_ids, decay_days=decay_days)
    if not before.baskets.nnz:
        return None
    rows = np.arange(before.shape[0])
    pair_rows, cols, features = pair_features(before, rows, repeat_rate(before), popularity(before))
    after = events.between(cut, as_of).purchases()
    users = {int(u): k for k, u in enumerate(before.user_ids)}
    bought_again = {
        (users[int(c)], before.item_index[int(p)])
        for c, p in zip(after.customers, after.products, strict=True)
        if int(c) in users and int(p) in before.item_index
    }
    labels = np.fromiter(
        ((int(r), int(c)) in bought_again for r, c in zip(pair_rows, cols, strict=True)),
        dtype=np.float64,
        count=len(pair_rows),
    )
    positives = int(labels.sum())
    if positives < MIN_LABELS or len(labels) - positives < MIN_LABELS:
        return None
    if len(labels) > MAX_PAIRS:
        keep = np.random.default_rng(seed).choice(len(labels), MAX_PAIRS, replace=False)
        features, labels = features[keep], labels[keep]
    return _logistic_regression(features, labels)


def _logistic_regression(features: np.ndarray, labels: np.ndarray) -> ReorderModel:
    """Ridge-penalised logistic regression by Newton's method (a handful of features, so
    each step is a small linear solve)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([np.ones((len(features), 1)), (features - mean) / scale])
    weights = np.zeros(design.shape[1])
    penalty = RIDGE * np.eye(len(weights))
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(30):
        chance = 1.0 / (1.0 + np.exp(-(design @ weights)))
        curvature = design.T @ (design * (chance * (1.0 - chance))[:, np.newaxis]) + penalty
        gradient = design.T @ (labels - chance) - penalty @ weights
        step = np.linalg.solve(curvature, gradient)
        weights += step
        if np.abs(step).max() < 1e-6:
            break
    return ReorderModel(mean=mean, scale=scale, coefficients=weights)
