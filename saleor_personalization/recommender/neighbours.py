"""Each product's top-K neighbours: the item-to-item scores a session request needs.

A neighbour's weight blends two signals:

- a **co-purchase (EASE) weight** ``W[a, b]``: how much having ``a`` in an order
  predicts ``b`` in the same order. Fitted on baskets (every order, guests' too: a
  session is one shopping trip, and most storefront traffic is anonymous), with the
  live model's product set and recency weighting; without orders at hand the live
  model's per-customer weights (``model.copurchase``) stand in. Divided by a
  shop-wide scale so one unit means "a strong link in this shop";
- the **embedding cosine** of the two products' LightFM vectors (positive part), so a
  product with few purchases still has neighbours through its words, category,
  attributes and price band.

``weight = copurchase / scale + embedding_weight * max(cosine, 0)``; the basket
regularisation and the embedding weight are chosen on a validation window by
``benchmarks/session.py`` (never on its holdout). Rows are computed in chunks (a chunk
of products against the catalogue), never the whole square at once, and only the top
``size`` per product are kept.

A product created after training gets an embedding from its features
(:meth:`RecommenderModel.item_vectors_for`) and neighbours by cosine alone (it has no
purchases yet) against the known products' vectors made the same way; it is also
offered to the similar and neighbour rows of the products it is closest to, so it can
appear in their lists before the next training.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp
from django.db import transaction
from django.utils import timezone

from ..features.matrices import item_feature_rows
from ..models import (
    ItemNeighbours,
    ItemProfile,
    ListEntry,
    ListKey,
    ListKind,
    ModelRun,
    RecommendationList,
    SubjectType,
)
from .components import copurchase_weights
from .data import EventRows, build_interactions
from .model import RecommenderModel, shared_features

logger = logging.getLogger(__name__)

# The reason on a product's "similar" list, as training writes it (lists.py).
SIMILAR_REASON = "Similar to {}"

Neighbours = Mapping[int, Sequence[tuple[int, float]]]


@dataclass(frozen=True)
class NeighbourParams:
    """How neighbours are built; defaults are the validation-window choice (README)."""

    size: int = 100
    embedding_weight: float = 1.0
    basket_regularisation: float = 5000.0
    chunk: int = 512


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


def basket_copurchase(
    model: RecommenderModel, purchases: EventRows, as_of: datetime, regularisation: float
) -> sp.csr_matrix:
    """EASE weights over orders (rows are baskets, not customers), on the model's products."""
    baskets = EventRows(
        customers=purchases.baskets,
        products=purchases.products,
        kinds=purchases.kinds,
        baskets=purchases.baskets,
        times=purchases.times,
    )
    data = build_interactions(baskets, as_of=as_of, item_ids=model.item_ids)
    return copurchase_weights(
        data,
        regularisation=regularisation,
        max_items=model.params.copurchase_max_items,
        neighbours=model.params.copurchase_neighbours,
        half_life_days=model.params.copurchase_half_life_days,
    )


def copurchase_scale(matrix: sp.csr_matrix) -> float:
    """A shop-wide unit for co-purchase weights: the median of each product's strongest."""
    matrix = matrix.tocsr()
    if not matrix.nnz:
        return 1.0
    row_max = np.asarray(matrix.max(axis=1).todense()).ravel()
    row_max = row_max[row_max > 0]
    return float(np.median(row_max)) if len(row_max) else 1.0


def neighbour_lists(
    model: RecommenderModel,
    params: NeighbourParams,
    copurchase: sp.csr_matrix | None = None,
) -> dict[int, list]:
    """Every known product's top ``params.size`` neighbours as ``[(product_id, weight)]``.

    ``copurchase``: item-to-item weights over the model's products (the basket EASE of
    :func:`basket_copurchase`); the model's own when not given.
    """
    n = len(model.item_ids)
    take = min(params.size, n - 1)
    if take < 1:
        return {}
    unit = _unit(model.factorisation.item_vectors)
    copurchase = (model.copurchase if copurchase is None else copurchase).tocsr()
    scale = copurchase_scale(copurchase)
    out: dict[int, list] = {}
    for start in range(0, n, params.chunk):
        stop = min(start + params.chunk, n)
        weights = copurchase[start:stop].toarray().astype(np.float32) / np.float32(scale)
        if params.embedding_weight:
            cosine = unit[start:stop] @ unit.T
            np.maximum(cosine, 0, out=cosine)
            weights += np.float32(params.embedding_weight) * cosine
        weights[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argpartition(-weights, take - 1, axis=1)[:, :take]
        for j, cols in enumerate(top):
            values = weights[j, cols]
            order = np.argsort(-values, kind="stable")
            cols, values = cols[order], values[order]
            keep = values > 0
            out[int(model.item_ids[start + j])] = [
                (int(model.item_ids[c]), round(float(v), 5))
                for c, v in zip(cols[keep], values[keep], strict=True)
            ]
    return out


def write_neighbours(
    run: ModelRun | None,
    model: RecommenderModel,
    params: NeighbourParams | None = None,
    *,
    purchases: EventRows | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Replace the neighbour store with the live model's (rows of other products deleted).

    ``purchases``: every order line (guests' too) for the basket co-purchase weights.
    """
    params = params or NeighbourParams()
    stamp = timezone.now()
    copurchase = None
    if purchases is not None and len(purchases):
        copurchase = basket_copurchase(model, purchases, now or stamp, params.basket_regularisation)
    lists = neighbour_lists(model, params, copurchase)
    with transaction.atomic():
        ItemNeighbours.objects.bulk_create(
            [
                ItemNeighbours(
                    product_id=product,
                    neighbours=[[p, w] for p, w in items],
                    from_features=False,
                    model_run=run,
                    generated_at=stamp,
                )
                for product, items in lists.items()
            ],
            update_conflicts=True,
            unique_fields=["product_id"],
            update_fields=["neighbours", "from_features", "model_run", "generated_at"],
            batch_size=500,
        )
        # Products the model knows nothing about keep their feature-made rows.
        ItemNeighbours.objects.filter(generated_at__lt=stamp, from_features=False).delete()
    return {"neighbours": len(lists)}


def read_neighbours(product_ids: Iterable[int]) -> dict[int, list[tuple[int, float]]]:
    """The stored neighbours of these products (one primary-key query)."""
    rows = ItemNeighbours.objects.filter(product_id__in=list(product_ids)).values_list(
        "product_id", "neighbours"
    )
    return {int(p): [(int(q), float(w)) for q, w in items or []] for p, items in rows}


# New products ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedProduct:
    """Where a new product went: its own neighbours and the lists it joined."""

    product_id: int
    neighbours: int
    joined_similar: int
    joined_neighbours: int


def _feature_vectors(
    model: RecommenderModel, product_ids: Sequence[int]
) -> tuple[list[int], np.ndarray]:
    """Embeddings from features (identity features dropped: the model never saw them)."""
    vectors, _ = model.item_vectors_for(shared_features(item_feature_rows(list(product_ids))))
    has = np.linalg.norm(vectors, axis=1) > 0
    return [int(p) for p, ok in zip(product_ids, has, strict=True) if ok], vectors[has]


def place_new_product(
    run: ModelRun | None, model: RecommenderModel, product_id: int, *, size: int = 50
) -> PlacedProduct | None:
    """Neighbours for a product the live model was not trained on, from its features.

    Its candidates are the model's products and the other products created since
    training (embedded the same way). It joins another product's similar list and
    neighbour row where its cosine beats that list's weakest entry, so it can be
    recommended from those products at once. ``None`` when the model knows the product
    (its neighbours came with the training) or none of its features were learned.
    """
    product_id = int(product_id)
    if product_id in model.item_index:
        return None
    since = model.as_of - timedelta(days=model.params.new_item_days)
    fresh = [
        int(p)
        for p in ItemProfile.objects.filter(created_at__gte=since).values_list(
            "product_id", flat=True
        )
        if int(p) not in model.item_index and int(p) != product_id
    ]
    placed, vectors = _feature_vectors(model, [product_id, *fresh])
    if not placed or placed[0] != product_id:
        return None
    ids = np.concatenate([model.item_ids, np.asarray(placed[1:], dtype=np.int64)])
    # Known products as new ones are embedded (shared features), so a new variant of a
    # known product finds that product first; their neighbour and similar rows are
    # ranked by the full vectors' cosine, on the same scale.
    unit = _unit(np.vstack([model.comparable_item_vectors, vectors[1:]]))
    mine = _unit(vectors[:1])[0]
    cosine = unit @ mine
    take = min(size, len(ids))
    top = np.argsort(-cosine, kind="stable")[:take]
    top = top[cosine[top] > 0]
    params = NeighbourParams()
    own = [(int(ids[k]), round(float(cosine[k]), 5)) for k in top]
    stamp = timezone.now()
    joined_similar = joined_neighbours = 0
    with transaction.atomic():
        ItemNeighbours.objects.update_or_create(
            product_id=product_id,
            defaults={
                "neighbours": [
                    [p, round(params.embedding_weight * w, 5)] for p, w in own[: params.size]
                ],
                "from_features": True,
                "model_run": run,
                "generated_at": stamp,
            },
        )
        # Its own "similar" list, so a storefront asking for products like it (its
        # product page) is answered now; the next training writes it with the rest.
        name = ItemProfile.objects.filter(pk=product_id).values_list("name", flat=True).first()
        reason = SIMILAR_REASON.format(name or "this product")
        RecommendationList.objects.update_or_create(
            **ListKey.of(ListKind.SIMILAR, SubjectType.PRODUCT, product_id).lookup(),
            defaults={
                "entries": [ListEntry(p, w, reason).to_json() for p, w in own],
                "model_run": run,
                "generated_at": stamp,
            },
        )
        others = dict(own)
        for row in RecommendationList.objects.select_for_update().filter(
            kind=ListKind.SIMILAR, subject_type=SubjectType.PRODUCT, subject_id__in=list(others)
        ):
            if _offer(row, product_id, others[row.subject_id], size):
                joined_similar += 1
        for row in ItemNeighbours.objects.select_for_update().filter(product_id__in=list(others)):
            weight = round(params.embedding_weight * others[row.product_id], 5)
            merged = [pair for pair in row.neighbours if int(pair[0]) != product_id]
            if len(merged) >= params.size and merged and merged[-1][1] >= weight:
                continue
            merged.append([product_id, weight])
            merged.sort(key=lambda pair: -pair[1])
            row.neighbours = merged[: params.size]
            row.save(update_fields=["neighbours"])
            joined_neighbours += 1
    return PlacedProduct(product_id, len(own), joined_similar, joined_neighbours)


def _offer(row, product_id: int, cosine: float, size: int) -> bool:
    """Put ``product_id`` into a similar list if it beats the list's weakest entry.

    Similar lists rank by the same embedding cosine, so the new product's cosine is
    compared with theirs; it takes the list's reason ("Similar to X").
    """
    entries = [e for e in row.ranked() if e.product_id != product_id]
    if len(entries) >= size and entries[-1].score >= cosine:
        return False
    reason = entries[0].reason if entries else ""
    entries.append(ListEntry(product_id, round(float(cosine), 5), reason))
    entries.sort(key=lambda e: -e.score)
    row.set_ranked(entries[:size])
    row.save(update_fields=["entries"])
    return True
