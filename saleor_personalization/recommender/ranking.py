"""The two personal rankings a customer is served, computed one way for every use.

*Buy again* ranks the customer's own purchases by how likely they are to order them
next (the blend tuned on the "all" protocol); what they bought in the last days is
left out unless it is a product customers reorder or one they have reordered
themselves. *For you* is discovery: products the
customer never bought, from the blend tuned on the "new" protocol (the LightFM hybrid
and co-purchase carry it, bestsellers may be pushed down), with products created since
training scored from their features in the same ranking.

The list writer, the training run's evaluation and tuning, and the benchmark all
call :func:`rank`, so the figures a run records describe the lists shoppers get.
"""

from dataclasses import dataclass

import numpy as np

from .data import InteractionData
from .model import BlendWeights, RecommenderModel

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
        rows = [[name for name in row if not name.startswith("item:")] for row in feature_rows]
        vectors, biases = model.item_vectors_for(rows)
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
    if not days:
        return
    coo = history.last_purchase_age[rows].tocoo()
    orders = np.asarray(history.baskets[rows][coo.row, coo.col]).ravel()
    recent = (coo.data - 1.0) < days
    drop = recent & ~reorder[coo.col] & (orders < OWN_REORDER_ORDERS)
    scores[coo.row[drop], coo.col[drop]] = -np.inf


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
    blended = RecommenderModel.blend(parts, weights)
    # Only what the customer bought: a "buy again" shelf shows nothing new to them (the
    # blend orders their own products: how likely a reorder, what goes with the rest of
    # their basket, what sells now). New products nobody bought stay out with the rest.
    scores = np.full_like(blended, -np.inf)
    owned = history.baskets[rows].tocoo()
    keep = owned.col < known
    scores[owned.row[keep], owned.col[keep]] = blended[owned.row[keep], owned.col[keep]]
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


def top_columns(scores: np.ndarray, size: int) -> list[np.ndarray]:
    """Each row's best ``size`` columns, best first, without the ``-inf`` ones."""
    take = min(size, scores.shape[1])
    if take < 1:
        return [np.zeros(0, dtype=np.int64) for _ in range(scores.shape[0])]
    top = np.argpartition(scores, scores.shape[1] - take, axis=1)[:, -take:]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    return [row[np.isfinite(scores[j, row])] for j, row in enumerate(top)]
