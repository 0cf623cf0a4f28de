"""Which of the products a customer bought they will buy again soon: a learned reorder model.

Re-recommending past purchases by count and recency is a strong baseline for a
*buy again* list, and a fixed blend of count and recency cannot beat it by much: how
much an old purchase still counts depends on the product (a monthly refill against a
one-off gift), on the customer (a weekly trade buyer against a yearly one) and on the
two together (the customer's own rhythm with that product). So each training run learns
it from the shop itself, as the Instacart-style reorder models do: gradient-boosted
trees over every (customer, product bought) pair, on features of the history up to a
cut-off (how often and how lately the customer bought it, the time since their last
purchase of it against their own and the product's usual interval between purchases,
how often they order at all, the product's reorder rate and current sales, what goes
with the rest of their basket), labelled by whether the customer bought the product
again in the weeks after it. Several cut-offs before the fit's end are stacked (the
latest labelled by its last weeks), so nothing of a holdout the run is judged on is
seen, and the model learns from more than one season's weeks.

Trees are interactions (a product bought long ago counts for a customer who buys it
every few months, not for a one-off buyer), which a logistic regression over the same
features could not express: on the validation windows before the benchmark's cuts the
trees ranked the customers' next purchases best (``benchmarks/quality.py``).

The fitted trees are stored as plain arrays (no pickle, see :mod:`.artifact`) and
evaluated here with numpy, a few milliseconds per thousand customers; scikit-learn is
only needed to fit them. The score is over owned products only, which is all a *buy
again* list holds (:func:`.ranking.buy_again_scores`); the blend weighs it against
co-purchase, LightFM and trend as validation decides.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .components import copurchase_weights, popularity, recency_history, repeat_rate
from .data import SECONDS_PER_DAY, EventRows, InteractionData

if TYPE_CHECKING:
    from .model import ModelParams

MIN_LABELS = 50  # of each class; below this the run keeps the fixed repeat signal
MAX_PAIRS = 250_000  # a random sample beyond this: the fit stays seconds on any shop
# Cut-offs stacked for training, ``holdout_weeks`` apart before the fit's end.
CUTOFFS = 4
# Share of the pairs not bought again that training keeps (every reorder is kept): a
# ranking only needs their order, and a fifth of a shop's pairs is a third of the time.
NEGATIVE_SHARE = 0.3
# The trees (chosen on the validation windows before the benchmark's cuts).
TREES = 60
DEPTH = 4
LEARNING_RATE = 0.15
MIN_LEAF = 100
# The co-purchase weights behind the training features are fitted once, at the earliest
# cut-off (the model's own weights have seen the later cut-offs' labels), over the most
# bought products only: a smaller inverse, and the feature is the same signal.
FEATURE_COPURCHASE_ITEMS = 2000
# A gap that does not exist (one order, or one purchase of the product): a value no
# real gap takes, so the trees can tell it apart.
NO_GAP = -1.0
# Windows (days) of the product's sales kept with the model.
SALES_DAYS = (7, 28, 91, 112)
PRODUCT_STATS = ("rate", "buyers", "interval", *(f"sold_{d}" for d in SALES_DAYS))
# Repeat buyers a product's own interval needs before it outweighs the shop's.
INTERVAL_PRIOR_BUYERS = 5.0
FEATURES = (
    "orders_with_product",
    "days_since_product",
    "days_since_first_purchase_of_product",
    "customer_orders",
    "days_since_customer_order",
    "days_since_customer_first_order",
    "customer_interval",
    "customer_product_interval",
    "days_since_product_over_own_interval",
    "days_since_product_over_customer_interval",
    "share_of_customer_orders",
    "product_reorder_rate",
    "product_buyers",
    "product_interval",
    "days_since_product_over_product_interval",
    "product_trend_28_vs_84",
    "in_latest_order",
    "customer_products",
    "copurchase",
    "copurchase_within_customer",
    "sold_last_7_days",
    "sold_last_28_days",
    "product_trend_7_vs_28",
    "product_trend_28_vs_91",
)


# Trees with at most this many inner nodes are evaluated by codes (ReorderModel.log_odds).
CODED_NODES = 16


@functools.cache
def _leaf_of_code(inner: int) -> np.ndarray:
    """The leaf a row reaches in a complete tree of ``inner`` inner nodes (heap order),
    for every code whose bit ``k`` says whether the row goes right at node ``k``."""
    codes = np.arange(1 << inner)
    node = np.zeros(len(codes), dtype=np.int64)
    while inner and node[0] < inner:
        node = 2 * node + 1 + ((codes >> node) & 1)
    return (node - inner).astype(np.intp)


@dataclass(frozen=True)
class ReorderModel:
    """Boosted trees as complete binary trees of :data:`DEPTH` levels, in heap order.

    ``features``/``thresholds`` (trees by inner nodes): go right where the feature is
    above the threshold; ``leaves`` (trees by leaves): the log-odds each tree adds to
    ``baseline``. ``products``: the product statistics of :data:`PRODUCT_STATS` at the
    fit's end, one row per model product.
    """

    features: np.ndarray
    thresholds: np.ndarray
    leaves: np.ndarray
    baseline: np.ndarray  # one value
    products: np.ndarray

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """The trees' log-odds of a reorder for each row of ``features``.

        A row's path through a tree is found from every inner node's decision at once:
        each decision is one comparison of a whole feature column, the decisions are
        bits of one code per row, and a table gives each code's leaf. Walking the tree
        level by level instead gathered a feature and a threshold per row and level,
        about twice the time (a chunk's *buy again* pairs number tens of thousands).
        Trees too deep for a 16-bit code are walked.
        """
        n = len(features)
        if not n:
            return np.zeros(0)
        columns = np.ascontiguousarray(features.T, dtype=np.float64)
        inner = self.features.shape[1]
        total = np.full(n, float(self.baseline[0]))
        if inner > CODED_NODES:
            return self._walked(columns, total)
        leaf_of_code = _leaf_of_code(inner)
        for tree_features, tree_thresholds, tree_leaves in zip(
            self.features, self.thresholds, self.leaves, strict=True
        ):
            code = np.zeros(n, dtype=np.uint16)
            for node, (feature, threshold) in enumerate(
                zip(tree_features.tolist(), tree_thresholds.tolist(), strict=True)
            ):
                code |= (columns[feature] > threshold).view(np.uint8).astype(np.uint16) << node
            total += tree_leaves[leaf_of_code[code]]
        return total

    def _walked(self, columns: np.ndarray, total: np.ndarray) -> np.ndarray:
        """``total`` plus each tree's leaf for each column of ``columns`` (features by
        rows), walking each tree level by level."""
        n = columns.shape[1]
        flat, offsets = columns.ravel(), np.arange(n)
        inner = self.features.shape[1]
        for tree_features, tree_thresholds, tree_leaves in zip(
            self.features, self.thresholds, self.leaves, strict=True
        ):
            node = np.zeros(n, dtype=np.intp)
            while node[0] < inner:  # every row is at the same depth
                values = flat[tree_features[node] * n + offsets]
                node = 2 * node + 1 + (values > tree_thresholds[node])
            total += tree_leaves[node - inner]
        return total

    def probabilities(
        self, data: InteractionData, rows: np.ndarray, copurchase: np.ndarray | sp.spmatrix
    ) -> sp.csr_matrix:
        """Chance of a reorder (up to a factor, see :data:`NEGATIVE_SHARE`) for every
        owned (row, product) of ``rows`` (sparse). ``copurchase``: the co-purchase scores
        of ``rows`` (rows by products), as the model's component computes them."""
        pair_rows, cols, features = pair_features(data, rows, self.products, copurchase)
        chance = 1.0 / (1.0 + np.exp(-self.log_odds(features)))
        return sp.csr_matrix(
            (chance.astype(np.float32), (pair_rows, cols)), shape=(len(rows), data.shape[1])
        )

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "reorder_tree_features": self.features,
            "reorder_tree_thresholds": self.thresholds,
            "reorder_tree_leaves": self.leaves,
            "reorder_baseline": self.baseline,
            "reorder_products": self.products,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "ReorderModel | None":
        if "reorder_tree_features" not in arrays:
            # An artifact from before the reorder trees (none, or the logistic
            # regression of earlier versions): the fixed repeat signal until retrained.
            return None
        return cls(
            features=arrays["reorder_tree_features"],
            thresholds=arrays["reorder_tree_thresholds"],
            leaves=arrays["reorder_tree_leaves"],
            baseline=arrays["reorder_baseline"],
            products=arrays["reorder_products"],
        )


def product_stats(data: InteractionData, events: EventRows) -> np.ndarray:
    """:data:`PRODUCT_STATS` of ``data``'s products as of ``data.as_of``.

    The interval is the typical time between two purchases of the product by one
    customer: the geometric mean of its repeat buyers' own mean intervals, shrunk to
    the shop's when few customers have rebought it.
    """
    baskets = data.baskets.tocoo()
    first = _at(data.first_purchase_age, baskets.row, baskets.col, data.last_purchase_age)
    last = np.asarray(data.last_purchase_age[baskets.row, baskets.col]).ravel()
    repeat = baskets.data > 1
    gaps = (first[repeat] - last[repeat]) / (baskets.data[repeat] - 1.0)
    logs = np.log(np.maximum(gaps, 1.0))
    columns = baskets.col[repeat]
    n_items = data.shape[1]
    sums = np.bincount(columns, weights=logs, minlength=n_items)
    counts = np.bincount(columns, minlength=n_items).astype(np.float64)
    shop = float(logs.mean()) if len(logs) else np.log(30.0)
    interval = np.exp((sums + INTERVAL_PRIOR_BUYERS * shop) / (counts + INTERVAL_PRIOR_BUYERS))
    purchases = events.purchases()
    end = data.as_of.timestamp()
    cols = _columns_of(data.item_ids, purchases.products)
    sold = []
    for days in SALES_DAYS:
        inside = (purchases.times < end) & (purchases.times >= end - days * SECONDS_PER_DAY)
        sold.append(np.bincount(cols[inside & (cols >= 0)], minlength=n_items))
    return np.column_stack([repeat_rate(data), popularity(data), interval, *sold]).astype(
        np.float64
    )


def _columns_of(item_ids: np.ndarray, products: np.ndarray) -> np.ndarray:
    order = np.argsort(item_ids, kind="stable")
    found = np.clip(np.searchsorted(item_ids[order], products), 0, max(len(order) - 1, 0))
    if not len(order):
        return np.full(len(products), -1, dtype=np.int64)
    return np.where(item_ids[order][found] == products, order[found], -1)


def _at(
    matrix: sp.spmatrix | None, rows: np.ndarray, cols: np.ndarray, fallback: sp.spmatrix
) -> np.ndarray:
    """``matrix`` at (rows, cols), or ``fallback`` there when the matrix is missing."""
    source = fallback if matrix is None else matrix
    return np.asarray(source.tocsr()[rows, cols]).ravel().astype(np.float64)


def pair_features(
    data: InteractionData,
    rows: np.ndarray,
    products: np.ndarray,
    copurchase: np.ndarray | sp.spmatrix,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row position, product column, :data:`FEATURES`) of every owned pair of ``rows``."""
    rows = np.asarray(rows)
    baskets = data.baskets[rows].tocsr()
    coo = baskets.tocoo()
    pair_rows, cols = coo.row, coo.col
    bought = coo.data.astype(np.float64)
    # Ages are stored as days + 1 (a purchase at the cut-off is not an implicit zero).
    last = np.asarray(data.last_purchase_age[rows][pair_rows, cols]).ravel() - 1.0
    first_ages = data.first_purchase_age[rows] if data.first_purchase_age is not None else None
    first = _at(first_ages, pair_rows, cols, data.last_purchase_age[rows]) - 1.0
    customers = len(rows)
    latest = np.full(customers, np.inf)
    np.minimum.at(latest, pair_rows, last)
    earliest = np.zeros(customers)
    np.maximum.at(earliest, pair_rows, first)
    if data.orders is not None:
        orders = data.orders[rows].astype(np.float64)
    else:  # at least as many orders as their most bought product's
        orders = np.asarray(baskets.max(axis=1).todense()).ravel().astype(np.float64)
    orders = np.maximum(orders, 1.0)
    own_orders = orders[pair_rows]
    customer_gap = _gap(earliest - latest, orders)[pair_rows]
    product_gap = _gap(first - last, bought)
    interval = np.maximum(products[cols, 2], 1.0)
    sold = {days: products[cols, 3 + k] for k, days in enumerate(SALES_DAYS)}
    if sp.issparse(copurchase):  # sorted, a lookup is a binary search, not a scan of its row
        copurchase = copurchase.tocsr()
        copurchase.sum_duplicates()
    together = np.asarray(copurchase[pair_rows, cols]).ravel().astype(np.float64)
    # Stacked as columns of a Fortran-ordered array: the trees read a feature at a time
    # (:meth:`ReorderModel.log_odds`), so each is one contiguous run of memory.
    features = np.vstack(
        [
            bought,
            last,
            first,
            own_orders,
            latest[pair_rows],
            earliest[pair_rows],
            customer_gap,
            product_gap,
            _over(last, product_gap),
            _over(last, customer_gap),
            bought / own_orders,
            products[cols, 0],
            products[cols, 1],
            interval,
            last / interval,
            np.log((sold[28] + 1.0) / ((sold[112] - sold[28]) / 3.0 + 1.0)),
            (last <= latest[pair_rows]).astype(np.float64),
            np.diff(baskets.indptr)[pair_rows].astype(np.float64),
            together,
            _within_customer(together, pair_rows, customers),
            np.log1p(sold[7]),
            np.log1p(sold[28]),
            np.log((sold[7] + 1.0) / (sold[28] / 4.0 + 1.0)),
            np.log((sold[28] + 1.0) / (sold[91] * 28.0 / 91.0 + 1.0)),
        ]
    ).T
    return pair_rows, cols, features


def _gap(span: np.ndarray, purchases: np.ndarray) -> np.ndarray:
    """Mean days between ``purchases`` spread over ``span`` days; :data:`NO_GAP` for one."""
    return np.where(purchases > 1, span / np.maximum(purchases - 1.0, 1.0), NO_GAP)


def _over(days: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """``days`` in units of ``gap`` (:data:`NO_GAP` where there is no gap)."""
    return np.where(gap > 0, days / np.maximum(gap, 1e-9), np.where(gap == 0, days, NO_GAP))


def _within_customer(values: np.ndarray, pair_rows: np.ndarray, customers: int) -> np.ndarray:
    """``values`` standardised over each customer's own products."""
    counts = np.maximum(np.bincount(pair_rows, minlength=customers), 1)
    mean = np.bincount(pair_rows, weights=values, minlength=customers) / counts
    square = np.bincount(pair_rows, weights=values**2, minlength=customers) / counts
    spread = np.sqrt(np.maximum(square - mean**2, 0.0)) + 1e-9
    return (values - mean[pair_rows]) / spread[pair_rows]


def fit_reorder(
    events: EventRows,
    data: InteractionData,
    weeks: int,
    params: "ModelParams",
    *,
    seed: int = 0,
) -> ReorderModel | None:
    """Learn reorders from :data:`CUTOFFS` cut-offs ``weeks`` apart before the end of
    ``data`` (the fit's history, whose products the model ranks), each labelled by the
    ``weeks`` after it; ``None`` if too few reorders to learn from."""
    as_of, item_ids = data.as_of, np.asarray(data.item_ids, dtype=np.int64)
    cuts = [as_of - timedelta(weeks=weeks * k) for k in range(1, CUTOFFS + 1)]
    cuts = [cut for cut in cuts if cut > events.first_time] if len(events) else []
    if not cuts or not len(item_ids):
        return None
    purchases = events.purchases()
    cols_of = _columns_of(item_ids, purchases.products)
    earliest = purchase_history(purchases, cols_of, cuts[-1], item_ids)
    together = copurchase_weights(
        earliest,
        regularisation=params.copurchase_regularisation,
        max_items=min(params.copurchase_max_items, FEATURE_COPURCHASE_ITEMS),
        neighbours=params.copurchase_neighbours,
        half_life_days=params.copurchase_half_life_days,
    )
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for cut in cuts:
        before = (
            earliest if cut == cuts[-1] else purchase_history(purchases, cols_of, cut, item_ids)
        )
        if not before.baskets.nnz:
            continue
        rows = np.arange(before.shape[0])
        history = recency_history(before, rows, params.recency_half_life_days)
        pair_rows, cols, features = pair_features(
            before, rows, product_stats(before, events), (history @ together).tocsr()
        )
        after = (purchases.times >= cut.timestamp()) & (
            purchases.times < (cut + timedelta(weeks=weeks)).timestamp()
        )
        user_rows = _columns_of(before.user_ids, purchases.customers[after])
        known = (user_rows >= 0) & (cols_of[after] >= 0)
        again = np.unique(user_rows[known] * np.int64(len(item_ids)) + cols_of[after][known])
        label = np.isin(pair_rows * np.int64(len(item_ids)) + cols, again)
        keep = label | (rng.random(len(label)) < NEGATIVE_SHARE)
        parts.append(features[keep])
        labels.append(label[keep])
    if not parts:
        return None
    features, label = np.vstack(parts), np.concatenate(labels)
    positives = int(label.sum())
    if positives < MIN_LABELS or len(label) - positives < MIN_LABELS:
        return None
    if len(label) > MAX_PAIRS:
        keep = rng.choice(len(label), MAX_PAIRS, replace=False)
        features, label = features[keep], label[keep]
    return _boosted_trees(features, label, product_stats(data, events), seed)


def purchase_history(
    purchases: EventRows, cols: np.ndarray, cut: datetime, item_ids: np.ndarray
) -> InteractionData:
    """The purchase matrices :func:`pair_features` reads, of the purchases before ``cut``
    (``cols``: each purchase's product column, -1 for another product).

    What :func:`.data.build_interactions` gives for purchases, without the event weights
    LightFM needs: a training run builds one per cut-off, so it is kept lean.
    """
    inside = (purchases.times < cut.timestamp()) & (cols >= 0)
    customers, products = purchases.customers[inside], cols[inside]
    baskets, ages = purchases.baskets[inside], (cut.timestamp() - purchases.times[inside])
    ages = ages / SECONDS_PER_DAY
    user_ids = np.unique(customers)
    rows = np.searchsorted(user_ids, customers)
    n_items = len(item_ids)
    cells, inverse = np.unique(rows * np.int64(n_items) + products, return_inverse=True)
    youngest = np.full(len(cells), np.inf)
    np.minimum.at(youngest, inverse, ages)
    oldest = np.full(len(cells), -np.inf)
    np.maximum.at(oldest, inverse, ages)
    span = np.int64(baskets.max()) + 1 if len(baskets) else np.int64(1)
    distinct = np.unique(inverse * span + baskets) // span
    counts = np.bincount(distinct, minlength=len(cells)).astype(np.float64)
    orders = np.bincount(np.unique(rows * span + baskets) // span, minlength=len(user_ids))
    shape = (len(user_ids), n_items)
    at = (cells // n_items, cells % n_items)
    return InteractionData(
        user_ids=user_ids,
        item_ids=item_ids,
        baskets=sp.csr_matrix((counts, at), shape=shape),
        last_purchase_age=sp.csr_matrix((youngest + 1.0, at), shape=shape),
        weights=sp.csr_matrix(shape),
        as_of=cut,
        first_purchase_age=sp.csr_matrix((oldest + 1.0, at), shape=shape),
        orders=orders.astype(np.float64),
    )


def _boosted_trees(
    features: np.ndarray, labels: np.ndarray, products: np.ndarray, seed: int
) -> ReorderModel:
    """Fit scikit-learn's histogram gradient boosting; its trees are kept as arrays."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    # One thread: a fit this size is a few seconds, and its parallel split search spent
    # several times that waiting for cores shared with LightFM and other workers.
    with threadpool_limits(1, "openmp"):
        fitted = HistGradientBoostingClassifier(
            max_iter=TREES,
            learning_rate=LEARNING_RATE,
            max_depth=DEPTH,
            max_leaf_nodes=2**DEPTH,
            min_samples_leaf=MIN_LEAF,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        ).fit(features, labels)
    return compile_trees(fitted, products)


def compile_trees(fitted, products: np.ndarray) -> ReorderModel:
    """The trees of a fitted ``HistGradientBoostingClassifier`` (binary, numeric
    features, at most :data:`DEPTH` levels) as :class:`ReorderModel` arrays.

    They are read from the estimator's predictors (``_predictors``, the node records
    scikit-learn itself predicts with; the dependency's version range pins them, and a
    test compares the two predictions), so that serving needs no pickle and no
    scikit-learn.
    """
    inner, leaves = 2**DEPTH - 1, 2**DEPTH
    trees = [predictors[0].nodes for predictors in fitted._predictors]
    tree_features = np.zeros((len(trees), inner), dtype=np.int64)
    thresholds = np.full((len(trees), inner), np.inf)
    values = np.zeros((len(trees), leaves))
    for t, nodes in enumerate(trees):
        _place(nodes, 0, 0, 0, tree_features[t], thresholds[t], values[t])
    return ReorderModel(
        features=tree_features,
        thresholds=thresholds,
        leaves=values,
        baseline=np.asarray(fitted._baseline_prediction, dtype=np.float64).ravel()[:1],
        products=np.asarray(products, dtype=np.float64),
    )


def _place(
    nodes: np.ndarray,
    node: int,
    position: int,
    depth: int,
    features: np.ndarray,
    thresholds: np.ndarray,
    leaves: np.ndarray,
) -> None:
    """Copy the subtree at ``node`` into heap ``position``; a leaf above the last level
    fills its whole subtree (its inner nodes send every row left, to copies of it)."""
    inner = len(features)
    record = nodes[node]
    if depth == DEPTH:
        leaves[position - inner] = record["value"]
        return
    if record["is_leaf"]:
        features[position], thresholds[position] = 0, np.inf
        _place(nodes, node, 2 * position + 1, depth + 1, features, thresholds, leaves)
        _place(nodes, node, 2 * position + 2, depth + 1, features, thresholds, leaves)
        return
    features[position] = record["feature_idx"]
    thresholds[position] = record["num_threshold"]
    _place(nodes, int(record["left"]), 2 * position + 1, depth + 1, features, thresholds, leaves)
    _place(nodes, int(record["right"]), 2 * position + 2, depth + 1, features, thresholds, leaves)
