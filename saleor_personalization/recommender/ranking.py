"""The two personal rankings a customer is served, computed one way for every use.

*Buy again* ranks the customer's own purchases by how likely they are to order them
next (the blend tuned on the "all" protocol); what they bought in the last days is
left out unless it is a product customers reorder or one they have reordered
themselves. *For you* is discovery: products the
customer never bought, from the blend tuned on the "new" protocol (the LightFM hybrid
and co-purchase carry it, bestsellers may be pushed down and what customers are buying
for the first time lately lifted), with products created since training scored from
their features in the same ranking.

The list writer, the training run's evaluation and tuning, and the benchmark all
call :func:`rank`, so the figures a run records describe the lists shoppers get.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .data import InteractionData
from .model import BlendWeights, RecommenderModel, shared_features

# Products at least this often rebought count as reorder products: they stay on
# lists right after a purchase.
REORDER_RATE = 0.2
# A customer who bought a product in this many orders reorders it: it stays on their
# lists right after a purchase too.
OWN_REORDER_ORDERS = 2
# Default of the Dashboard's "hide purchases of the last (days)".
RECENTLY_BOUGHT_DAYS = 30


@dataclass(frozen=True)
class NewProducts:
    """Products the live model was not trained on, as vectors from their features."""

    ids: np.ndarray
    vectors: np.ndarray
    biases: np.ndarray

    @classmethod
    def none(cls, dims: int = 0) -> "NewProducts":
        return cls(
            ids=np.zeros(0, dtype=np.int64),
            vectors=np.zeros((0, dims), dtype=np.float32),
            biases=np.zeros(0, dtype=np.float32),
        )

    @classmethod
    def from_features(
        cls, model: RecommenderModel, ids, feature_rows: list[list[str]]
    ) -> "NewProducts":
        """Vectors from each product's features (its own id feature is unknown to the model)."""
        vectors, biases = model.item_vectors_for(shared_features(feature_rows))
        return cls(ids=np.asarray(ids, dtype=np.int64), vectors=vectors, biases=biases)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Rankings:
    """Scores of both lists for a batch of customers; columns are ``item_ids``.

    ``-inf`` marks what a list must not show. ``parts`` are the standardised
    components, kept for the reasons.
    """

    item_ids: np.ndarray  # the model's products, then the new ones
    known: int  # how many of the columns are the model's own products
    parts: dict[str, np.ndarray]
    buy_again: np.ndarray
    for_you: np.ndarray


def reorder_mask(model: RecommenderModel) -> np.ndarray:
    return model.repeat_rates >= REORDER_RATE


def hide_recent_purchases(
    scores: np.ndarray,
    history: InteractionData,
    rows: np.ndarray,
    reorder: np.ndarray,
    days: int,
) -> None:
    """Leave out (in place) what each customer bought in the last ``days``, unless reordered.

    Reordered means a product customers reorder (``reorder``), or one this customer has
    bought in two or more orders: their own habit says they buy it again, whatever
    the shop-wide rate of the product.
    """
    hidden_rows, hidden_cols = recent_purchases_hidden(history, rows, reorder, days)
    scores[hidden_rows, hidden_cols] = -np.inf


def recent_purchases_hidden(
    history: InteractionData, rows: np.ndarray, reorder: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row position, column) of the purchases :func:`hide_recent_purchases` leaves out:
    the one rule for the lists written and the lists weight tuning ranks."""
    if not days:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    coo = history.last_purchase_age[rows].tocoo()
    orders = np.asarray(history.baskets[rows][coo.row, coo.col]).ravel()
    recent = (coo.data - 1.0) < days
    drop = recent & ~reorder[coo.col] & (orders < OWN_REORDER_ORDERS)
    return coo.row[drop], coo.col[drop]


def hide_owned(scores: np.ndarray, history: InteractionData, rows: np.ndarray) -> None:
    """Leave out (in place) everything each customer ever bought: discovery."""
    owned = history.baskets[rows].tocoo()
    scores[owned.row, owned.col] = -np.inf


def buy_again_scores(
    parts: dict[str, np.ndarray],
    weights: BlendWeights,
    history: InteractionData,
    rows: np.ndarray,
    reorder: np.ndarray,
    known: int,
    recently_bought_days: int,
) -> np.ndarray:
    # Only what the customer bought: a "buy again" shelf shows nothing new to them (the
    # blend orders their own products: how likely a reorder, what goes with the rest of
    # their basket, what sells now). New products nobody bought stay out with the rest.
    # So the blend is taken at the owned products only, not over the whole catalogue.
    shape = (len(rows), parts["repeat"].shape[1])
    scores = np.full(shape, -np.inf, dtype=np.float32)
    owned = history.baskets[rows].tocoo()
    keep = owned.col < known
    at = (owned.row[keep], owned.col[keep])
    owned_parts = {name: np.broadcast_to(part, shape)[at] for name, part in parts.items()}
    scores[at] = RecommenderModel.blend(owned_parts, weights)
    hide_recent_purchases(scores, history, rows, reorder, recently_bought_days)
    return scores


def for_you_scores(
    parts: dict[str, np.ndarray],
    weights: BlendWeights,
    history: InteractionData,
    rows: np.ndarray,
) -> np.ndarray:
    scores = RecommenderModel.blend(parts, weights)
    hide_owned(scores, history, rows)
    return scores


def rank(
    model: RecommenderModel,
    history: InteractionData,
    rows: np.ndarray,
    feature_rows: list[list[str]] | None,
    *,
    new: NewProducts | None = None,
    recently_bought_days: int = RECENTLY_BOUGHT_DAYS,
) -> Rankings:
    """Both lists' scores for ``rows`` of ``history`` (built over the model's products)."""
    rows = np.asarray(rows)
    new = new if new is not None else NewProducts.none()
    parts = model.components(
        history, feature_rows, rows, new_items=(new.vectors, new.biases) if len(new) else None
    )
    known = len(model.item_ids)
    return Rankings(
        item_ids=np.concatenate([model.item_ids.astype(np.int64), new.ids]),
        known=known,
        parts=parts,
        buy_again=buy_again_scores(
            parts,
            model.weights_all,
            history,
            rows,
            reorder_mask(model),
            known,
            recently_bought_days,
        ),
        for_you=for_you_scores(parts, model.weights_new, history, rows),
    )


# Columns per block when :func:`top_columns` bounds a row's ``size``-th best score.
TOP_BLOCK = 16


def top_columns(scores: np.ndarray, size: int) -> list[np.ndarray]:
    """Each row's best ``size`` columns, best first, without the ``-inf`` ones; of equal
    scores the lower column comes first.

    A whole chunk of customers at once, without a selection per row over the whole
    catalogue (``argpartition`` row by row was the largest single cost of writing a
    chunk's lists, and far slower on *buy again*'s rows of ``-inf``): the
    columns are dealt into ``ceil(width / TOP_BLOCK)`` blocks (column ``c`` into block
    ``c mod blocks``) and the ``size``-th largest block maximum bounds each row's
    ``size``-th best score from below (``size`` blocks hold one score at least that high
    each). Only the scores at or above it are sorted, by row, score and column.
    """
    n_rows, width = scores.shape
    take = min(size, width)
    if take < 1 or not n_rows:
        return [np.zeros(0, dtype=np.int64) for _ in range(n_rows)]
    lowest = np.finfo(scores.dtype).min if scores.dtype.kind == "f" else -np.inf
    blocks = -(-width // TOP_BLOCK)
    if blocks > take:
        maxima = scores[:, :blocks].copy()
        for start in range(blocks, width, blocks):  # fmax: a NaN is no maximum
            part = scores[:, start : start + blocks]
            np.fmax(maxima[:, : part.shape[1]], part, out=maxima[:, : part.shape[1]])
        floor = np.partition(maxima, blocks - take, axis=1)[:, blocks - take]
        keep = scores >= np.fmax(floor, lowest)[:, np.newaxis]
    else:
        keep = scores >= lowest  # neither -inf nor NaN
    rows, cols = np.nonzero(keep)  # by row, then column
    order = np.lexsort((-scores[rows, cols], rows))  # stable: equal scores by column
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n_rows + 1))
    chosen = np.arange(len(rows)) - starts[rows] < take
    rows, cols = rows[chosen], cols[chosen].astype(np.int64)
    return np.split(cols, np.searchsorted(rows, np.arange(1, n_rows)))


@dataclass(frozen=True)
class Shortlist:
    """A batch of customers' own products, with their component scores: all a *buy again*
    list can show, so ranking them under a weighting gives the lists :func:`rank` gives.

    Weight tuning ranks the same customers under every weighting of a grid; a shortlist
    is built once per batch and each weighting ranks only its columns.
    """

    columns: np.ndarray  # (customers, m) product columns; -1 pads a shorter shortlist
    scores: dict[str, np.ndarray]  # each component's scores at ``columns``

    def top(self, weights: BlendWeights, k: int) -> np.ndarray:
        """Each customer's best ``k`` columns under ``weights``, best first; -1 past the end."""
        blended = RecommenderModel.blend(self.scores, weights)
        blended[self.columns < 0] = -np.inf
        positions, values = best_positions(blended, k)
        top = np.take_along_axis(self.columns, positions, axis=1)
        return np.where(np.isfinite(values), top, -1)


def best_positions(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's best ``k`` positions (fewer if the row is shorter), best first, and scores;
    padded to ``k`` with position 0 and ``-inf``. Of equal scores the lower position
    comes first, as in :func:`top_columns` (a shortlist's columns are in column order)."""
    n_rows, width = scores.shape
    take = min(k, width)
    if take < 1:
        return np.zeros((n_rows, k), dtype=np.int64), np.full((n_rows, k), -np.inf)
    # A partition picks any of the scores equal to the k-th best: the lowest positions
    # among them are taken here, or a list would differ from the whole catalogue's.
    kth = np.partition(scores, width - take, axis=1)[:, width - take, np.newaxis]
    above = scores > kth
    at = scores == kth
    chosen = above | (at & (np.cumsum(at, axis=1) <= take - above.sum(axis=1, keepdims=True)))
    top = np.nonzero(chosen)[1].reshape(n_rows, take)  # ``take`` a row, in position order
    values = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    if take < k:
        top = np.pad(top, ((0, 0), (0, k - take)))
        values = np.pad(values, ((0, 0), (0, k - take)), constant_values=-np.inf)
    return top, values


def _gather(parts: dict[str, np.ndarray], columns: np.ndarray) -> dict[str, np.ndarray]:
    """Each component's scores at ``columns`` (one-row components broadcast to every row)."""
    safe = np.maximum(columns, 0)
    return {
        name: np.take_along_axis(np.broadcast_to(part, (len(columns), part.shape[1])), safe, axis=1)
        for name, part in parts.items()
    }


def buy_again_shortlist(
    parts: dict[str, np.ndarray],
    history: InteractionData,
    rows: np.ndarray,
    reorder: np.ndarray,
    recently_bought_days: int,
) -> Shortlist:
    """Each customer's own products, less recent purchases that are not reordered, as
    :func:`buy_again_scores` leaves them (``history`` over the model's products only).

    The same rule as the written lists (:func:`recent_purchases_hidden`): tuning once
    left out the customer's own reorders too, which the lists keep, and so judged the
    weightings on other lists than the ones shoppers get."""
    keep = history.baskets[rows].tocsr().astype(bool).astype(np.float32)
    hidden_rows, hidden_cols = recent_purchases_hidden(history, rows, reorder, recently_bought_days)
    if len(hidden_rows):
        hidden = sp.csr_matrix(
            (np.ones(len(hidden_rows), dtype=np.float32), (hidden_rows, hidden_cols)),
            shape=keep.shape,
        )
        keep = (keep - keep.multiply(hidden)).tocsr()
        keep.eliminate_zeros()
    counts = np.diff(keep.indptr)
    columns = np.full((len(rows), max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    row_of = np.repeat(np.arange(len(rows)), counts)
    columns[row_of, np.arange(keep.nnz) - keep.indptr[row_of]] = keep.indices
    return Shortlist(columns=columns, scores=_gather(parts, columns))
