"""Precompute every list serving reads, one :class:`RecommendationList` row each.

Lists are written with their reasons and are longer than any page, so that the
read-time rules (channel availability, stock, what is in the cart, category
diversity) still leave enough. Writing is an upsert on the list's unique key: a
repeated or retried scoring task rewrites the same rows.
"""

import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp
from django.db import connection, transaction
from django.utils import timezone

from ..features.matrices import FeatureSource
from ..models import (
    CustomerProfile,
    ItemProfile,
    ListEntry,
    ListKey,
    ListKind,
    ModelRun,
    RecommendationList,
    SubjectType,
)
from .data import EventRows, InteractionData, PurchaseLog, build_interactions
from .model import COMPONENTS, DENSE_COPURCHASE_LIMIT, RecommenderModel
from .ranking import RECENTLY_BOUGHT_DAYS, NewProducts, rank, reorder_mask, top_columns

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListOptions:
    size: int = 50
    recently_bought_days: int = RECENTLY_BOUGHT_DAYS
    chunk: int = 1000


def _entry(product_id, score, reason: str, *, is_new: bool = False) -> ListEntry:
    return ListEntry(int(product_id), round(float(score), 5), reason, is_new=is_new)


def _write(rows: Iterable[RecommendationList]) -> int:
    rows = list(rows)
    if not rows:
        return 0
    RecommendationList.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["kind", "subject_type", "subject_id", "country", "channel"],
        update_fields=["entries", "model_run", "generated_at"],
        batch_size=500,
    )
    return len(rows)


def _names(product_ids: Iterable[int]) -> dict[int, str]:
    return dict(
        ItemProfile.objects.filter(product_id__in=set(map(int, product_ids))).values_list(
            "product_id", "name"
        )
    )


# Personal lists ------------------------------------------------------------------


# From this many customers on, the links are made dense once (see links_to).
DENSE_LINKS_MIN_CUSTOMERS = 50


@dataclass
class ScoringContext:
    """What every chunk of personal lists needs, computed once per scoring run."""

    model: RecommenderModel
    history: InteractionData
    new: NewProducts
    reorder: np.ndarray
    linked: sp.csr_matrix  # co-purchase weights of pairs that share at least one buyer
    features: FeatureSource
    _links_to: np.ndarray | sp.csr_matrix | None = field(default=None, repr=False)

    @property
    def item_ids(self) -> np.ndarray:
        """Every product the lists can show: the model's, then the new ones."""
        return np.concatenate([self.model.item_ids.astype(np.int64), self.new.ids])

    def links_to(self) -> np.ndarray | sp.csr_matrix:
        """The links transposed, a row per linked-to product: the search for the owned
        product behind "Because you bought X" reads along rows.

        Dense while that is small (the model's own limit for dense co-purchase weights):
        one customer's block is then a plain index, where a sparse slice per customer
        was most of the time spent writing lists. For a few customers (a rescoring after
        an order) making the array costs more than the slices it saves: they stay sparse.
        """
        if self._links_to is None:
            many = len(self.history.user_ids) >= DENSE_LINKS_MIN_CUSTOMERS
            if many and self.linked.shape[0] <= DENSE_COPURCHASE_LIMIT:
                self._links_to = self.linked.T.toarray()
            else:
                self._links_to = self.linked.T.tocsr()
        return self._links_to


def scoring_context(
    model: RecommenderModel,
    events: EventRows,
    customer_ids: Sequence[int],
    now: datetime,
    log: PurchaseLog | None = None,
) -> ScoringContext:
    """History of these customers now, and the products created since training.

    ``log``: other customers' purchases come from it (see :func:`owned_links`), and
    ``events`` need only be these customers'; without it, ``events`` are every
    customer's (:func:`shared_buyer_links`).
    """
    known = {int(i) for i in model.item_ids}
    fresh_since = now - timedelta(days=model.params.new_item_days)
    new_ids = sorted(
        pid
        for pid in ItemProfile.objects.filter(created_at__gte=fresh_since).values_list(
            "product_id", flat=True
        )
        if pid not in known
    )
    return build_scoring_context(model, events, customer_ids, now, new_ids, log=log)


def build_scoring_context(
    model: RecommenderModel,
    events: EventRows,
    customer_ids: Sequence[int],
    now: datetime,
    new_ids: Sequence[int] = (),
    features: FeatureSource | None = None,
    log: PurchaseLog | None = None,
) -> ScoringContext:
    """The scoring context from given new products (no database read of which products
    are new; benchmarks give them, and their own features)."""
    features = features or FeatureSource()
    history = build_interactions(
        events,
        as_of=now,
        item_ids=model.item_ids,
        user_ids=np.asarray(customer_ids, dtype=np.int64),
        decay_days=model.params.decay_days,
    )
    return ScoringContext(
        model=model,
        history=history,
        new=NewProducts.from_features(model, new_ids, features.items(new_ids)),
        reorder=reorder_mask(model),
        linked=(
            shared_buyer_links(model, events.before(now))
            if log is None
            else owned_links(model, history, log)
        ),
        features=features,
    )


def shared_buyer_links(model: RecommenderModel, events: EventRows) -> sp.csr_matrix:
    """The model's co-purchase weights, kept only where some customer bought both products.

    The ridge model can link two products that were never bought by the same customer
    (through a third); "Because you bought X" must not claim a link nobody made.
    """
    purchases = events.purchases()
    columns = {int(p): k for k, p in enumerate(model.item_ids)}
    cols = np.fromiter((columns.get(int(p), -1) for p in purchases.products), dtype=np.int64)
    known = cols >= 0
    customers, rows = np.unique(purchases.customers[known], return_inverse=True)
    n_items = len(model.item_ids)
    bought = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (rows, cols[known])),
        shape=(len(customers), n_items),
    )
    bought.data[:] = 1.0
    return _where_shared(model.copurchase.tocsr(), bought.T @ bought)


def with_owned_links(ctx: ScoringContext, log: PurchaseLog) -> ScoringContext:
    """``ctx`` with its links computed by :func:`owned_links` (its dense copy dropped)."""
    return replace(ctx, linked=owned_links(ctx.model, ctx.history, log), _links_to=None)


def owned_links(
    model: RecommenderModel, history: InteractionData, log: PurchaseLog
) -> sp.csr_matrix:
    """The links of :func:`shared_buyer_links`, only for the products the customers of
    ``history`` own.

    Other customers' purchases come from ``log``; the scored customers' own from
    ``history``, as just read. The rows of those products are then exactly
    :func:`shared_buyer_links`' over the whole log, and reasons read no other rows (a
    customer's sources are what they bought); the other rows are empty. A rescoring
    after an order computes a few rows instead of the co-purchase matrix of the shop.
    """
    owned = np.unique(history.baskets.indices)
    theirs = (history.baskets > 0).astype(np.float32)
    others = log.shared_buyers(owned, until=history.as_of, excluding=history.user_ids)
    rows = _where_shared(model.copurchase.tocsr()[owned], others, theirs[:, owned].T @ theirs)
    place = sp.csr_matrix(
        (np.ones(len(owned), dtype=np.float32), (owned, np.arange(len(owned)))),
        shape=(len(model.item_ids), len(owned)),
    )
    return (place @ rows).tocsr()


def _where_shared(weights: sp.csr_matrix, *shared: sp.spmatrix) -> sp.csr_matrix:
    """``weights`` kept where one of ``shared`` (counts, each of its shape) is non-zero,
    as float32. Each count matrix is read at the weights' positions only: the counts
    of a shop's pairs are far more than its weights, and are not added up."""
    weights = weights.tocsr()
    positions = sp.csr_matrix(
        (np.ones(len(weights.data), dtype=np.float32), weights.indices, weights.indptr),
        shape=weights.shape,
    )
    hits = sum(
        (positions.multiply(counts) for counts in shared),
        start=sp.csr_matrix(weights.shape, dtype=np.float32),
    )
    return sp.csr_matrix(weights.multiply(hits > 0), dtype=np.float32)


@dataclass(frozen=True)
class RankedList:
    """One personal list in rank order, as arrays: what the writer turns into a row's
    JSON without an object per entry (see :meth:`json_text`)."""

    product_ids: np.ndarray
    scores: np.ndarray
    reasons: list[str]
    is_new: np.ndarray

    def entries(self) -> list[ListEntry]:
        return [
            _entry(product, score, reason, is_new=bool(new))
            for product, score, reason, new in zip(
                self.product_ids, self.scores, self.reasons, self.is_new, strict=True
            )
        ]

    def json_text(self, suffixes: dict[tuple[str, bool], str]) -> str:
        """The row's ``entries`` JSON, as :meth:`ListEntry.to_json` would make it.

        ``suffixes`` caches what follows each entry's score for a (reason, new) pair:
        a shop has a few reasons, and "Because you bought X" once per X, against 100
        entries per customer.
        """
        parts = []
        for product, score, reason, new in zip(
            self.product_ids.tolist(),
            self.scores.tolist(),
            self.reasons,
            self.is_new.tolist(),
            strict=True,
        ):
            suffix = suffixes.get((reason, new))
            if suffix is None:
                flag = ', "new": true' if new else ""
                suffix = suffixes[(reason, new)] = f', "reason": {json.dumps(reason)}{flag}}}'
            parts.append(f'{{"product_id": {product}, "score": {round(score, 5)!r}{suffix}')
        return "[" + ", ".join(parts) + "]"


@dataclass(frozen=True)
class CustomerLists:
    """One customer's two personal lists, as written."""

    customer_id: int
    for_you: list[ListEntry]
    buy_again: list[ListEntry]


def personal_lists(
    ctx: ScoringContext, rows: np.ndarray, options: ListOptions, names: dict[int, str]
) -> list[CustomerLists]:
    """Both personal lists, ranked and explained, for ``rows`` of the context's history."""
    return [
        CustomerLists(customer, for_you.entries(), buy_again.entries())
        for customer, for_you, buy_again in ranked_personal_lists(ctx, rows, options, names)
    ]


def ranked_personal_lists(
    ctx: ScoringContext, rows: np.ndarray, options: ListOptions, names: dict[int, str]
) -> list[tuple[int, RankedList, RankedList]]:
    """(customer, *for you*, *buy again*) for ``rows`` of the context's history."""
    model, history = ctx.model, ctx.history
    users = history.user_ids[rows]
    ranked = rank(
        model,
        history,
        rows,
        ctx.features.customers(users),
        new=ctx.new,
        recently_bought_days=options.recently_bought_days,
    )
    item_ids = ranked.item_ids
    owned = history.baskets[rows].tocsr()
    by_kind = []
    for scores, weights in (
        (ranked.for_you, model.weights_new),
        (ranked.buy_again, model.weights_all),
    ):
        cols = top_columns(scores, options.size)
        reasons = ReasonWriter(ctx, ranked.parts, weights, names).chunk_reasons(cols, owned)
        by_kind.append(
            [
                RankedList(
                    item_ids[c], scores[j, c].astype(np.float64), reasons[j], c >= ranked.known
                )
                for j, c in enumerate(cols)
            ]
        )
    return [
        (int(user_id), for_you, buy_again)
        for user_id, for_you, buy_again in zip(users, *by_kind, strict=True)
    ]


BOUGHT_BEFORE = "You bought this before"
BECAUSE_YOU_BOUGHT = "Because you bought {}"
TRENDING = "Trending now"
PICKED = "Picked for you"
NEW_IN_SHOP = "New in the shop"


class ReasonWriter:
    """Says why a product is on a customer's list, and only what is true of them.

    "You bought this before" only for products the customer bought; "Because you
    bought X" only when they bought X, X and the product share a buyer, and the
    co-purchase model links X to it; "Trending now" only for products sold in the
    model's trend window; "New in the shop" for products created since training.
    Otherwise the component that lifted the product most (a positive weighted
    contribution) is named, or nothing specific ("Picked for you").

    A chunk of customers at a time: every component's contribution to every entry
    that is neither new nor owned is read in one indexing operation; only the search
    for the owned product behind "Because you bought X" is per customer, and only for
    the entries that need it. Reasons are numbers (codes) until each distinct one is
    written out once.
    """

    def __init__(self, ctx: ScoringContext, parts, weights, names: dict[int, str]):
        self.ctx, self.parts, self.names = ctx, parts, names
        self.item_ids = ctx.model.item_ids
        self.known = len(ctx.model.item_ids)
        self.weights = np.array([getattr(weights, n) for n in COMPONENTS], dtype=np.float32)
        self.trending = ctx.model.trend > 0
        self.links_to = ctx.links_to()

    def chunk_reasons(self, cols: list[np.ndarray], owned: sp.csr_matrix) -> list[list[str]]:
        """Each customer's reasons for their ``cols`` (``owned``: the chunk's purchases)."""
        n = len(cols)
        width = max((len(c) for c in cols), default=0)
        if not width:
            return [[] for _ in cols]
        lengths = np.fromiter((len(c) for c in cols), dtype=np.int64, count=n)
        valid = np.arange(width) < lengths[:, np.newaxis]
        grid = np.zeros((n, width), dtype=np.int64)
        grid[valid] = np.concatenate(cols)
        owned = owned.tocsr()
        known = grid < self.known
        bought = self._bought(grid, owned) & valid
        codes = np.full((n, width), _PICKED_CODE, dtype=np.int64)
        codes[bought] = _BOUGHT_CODE
        codes[~known] = _NEW_CODE
        # Only the other entries need to know which component lifted them.
        j, k = np.nonzero(valid & known & ~bought)
        if len(j):
            codes[j, k] = self._lifted_codes(j, grid[j, k], owned)
        texts = self._texts(codes)[codes]
        return [texts[j, :length].tolist() for j, length in enumerate(lengths.tolist())]

    def _bought(self, grid: np.ndarray, owned: sp.csr_matrix) -> np.ndarray:
        """Whether each entry of ``grid`` is a product its customer bought."""
        stride = max(self.known, owned.shape[1]) + len(self.ctx.new.ids) + 1
        owned_keys = np.repeat(np.arange(owned.shape[0]), np.diff(owned.indptr)) * stride
        owned_keys = owned_keys + owned.indices
        return np.isin(np.arange(len(grid))[:, np.newaxis] * stride + grid, owned_keys)

    def _lifted_codes(self, rows: np.ndarray, cols: np.ndarray, owned: sp.csr_matrix) -> np.ndarray:
        """Reason codes of known products the customers (``rows``) did not buy: the owned
        product behind the co-purchase lift, trending, or nothing specific."""
        contributions = (
            np.stack(
                [
                    (part[rows, cols] if len(part) > 1 else part[0][cols])
                    for part in (self.parts[name] for name in COMPONENTS)
                ]
            )
            * self.weights[:, np.newaxis]
        )
        contributions[self.weights <= 0] = -np.inf  # a component with no weight lifted nothing
        contributions[COMPONENTS.index("repeat")] = -np.inf  # said only of owned products
        main = contributions.argmax(axis=0)
        lifted = contributions.max(axis=0) > 0
        codes = np.full(len(rows), _PICKED_CODE, dtype=np.int64)
        trending = lifted & (main == COMPONENTS.index("trend")) & self.trending[cols]
        codes[trending] = _TRENDING_CODE
        wants_source = np.flatnonzero(lifted & (main == COMPONENTS.index("copurchase")))
        customers, first = np.unique(rows[wants_source], return_index=True)
        for j, entries in zip(customers, np.split(wants_source, first)[1:], strict=True):
            own = owned.indices[owned.indptr[j] : owned.indptr[j + 1]]
            if len(own):
                sources = self._sources(cols[entries], own)
                found = sources >= 0
                codes[entries[found]] = _SOURCE_CODES + sources[found]
        return codes

    def _sources(self, cols: np.ndarray, own: np.ndarray) -> np.ndarray:
        """For each (known) column, the owned product linking to it most strongly (-1: none)."""
        if isinstance(self.links_to, np.ndarray):
            strengths = self.links_to[np.ix_(cols, own)]
        else:
            strengths = self.links_to[cols][:, own].toarray()
        best = strengths.argmax(axis=1)
        has = strengths[np.arange(len(cols)), best] > 0
        return np.where(has, own[best], -1)

    def _texts(self, codes: np.ndarray) -> np.ndarray:
        """The reason of every code up to the largest in ``codes``, as an object array."""
        texts = np.empty(int(codes.max(initial=_SOURCE_CODES - 1)) + 1, dtype=object)
        texts[:_SOURCE_CODES] = [NEW_IN_SHOP, BOUGHT_BEFORE, TRENDING, PICKED]
        used = np.unique(codes[codes >= _SOURCE_CODES]) - _SOURCE_CODES
        texts[used + _SOURCE_CODES] = [
            BECAUSE_YOU_BOUGHT.format(self.names.get(int(product), "a product you liked"))
            for product in self.item_ids[used]
        ]
        return texts


# A reason as a number while a chunk is explained: one of the fixed reasons, or
# "Because you bought X" as _SOURCE_CODES + X's column.
_NEW_CODE, _BOUGHT_CODE, _TRENDING_CODE, _PICKED_CODE, _SOURCE_CODES = range(5)


def write_personal_lists(
    run: ModelRun | None,
    ctx: ScoringContext,
    rows: np.ndarray,
    options: ListOptions,
    now: datetime,
) -> int:
    """Both personal lists of each customer in ``rows``; returns how many customers.

    Each list's JSON is made from its arrays and a chunk's rows are upserted with one
    statement (see :func:`_upsert_json_rows`): no object per entry. The names that
    reasons quote are read once per product (:class:`OwnedNames`).
    """
    stamp = timezone.now()
    written = 0
    suffixes: dict[tuple[str, bool], str] = {}
    names = OwnedNames()
    run_id = run.pk if run is not None else None
    for start in range(0, len(rows), options.chunk):
        chunk = rows[start : start + options.chunk]
        lists = ranked_personal_lists(ctx, chunk, options, names.of(ctx, chunk))
        values = [
            (kind, customer, ranked.json_text(suffixes))
            for customer, for_you, buy_again in lists
            for kind, ranked in (
                (ListKind.PERSONAL.value, for_you),
                (ListKind.BUY_AGAIN.value, buy_again),
            )
        ]
        with transaction.atomic():
            _upsert_json_rows(values, run_id, stamp)
        written += len(lists)
    return written


_UPSERT_KEY = "(kind, subject_type, subject_id, country, channel)"
_UPSERT_SET = (
    "entries = excluded.entries, model_run_id = excluded.model_run_id, "
    "generated_at = excluded.generated_at"
)
# Session-local staging table for one chunk's rows (PostgreSQL).
_STAGED = "sp_personal_list_rows"


def _upsert_json_rows(
    values: list[tuple[str, int, str]], run_id: int | None, stamp: datetime
) -> None:
    """Upsert customers' list rows, ``(kind, customer, entries as JSON text)``.

    On PostgreSQL through psycopg 3 the rows are copied (``COPY``) into a temporary
    table and upserted from it by one ``INSERT ... SELECT``: the server parses and
    plans one statement instead of one per row, and nothing is bound per row.
    Otherwise (SQLite, psycopg 2), one ``executemany``. Run inside a transaction.
    """
    if not values:
        return
    table = connection.ops.quote_name(RecommendationList._meta.db_table)
    columns = (
        "(kind, subject_type, subject_id, country, channel, entries, model_run_id, generated_at)"
    )
    with connection.cursor() as cursor:
        if not _copies_rows():
            cast = "::jsonb" if connection.vendor == "postgresql" else ""
            cursor.executemany(
                f"INSERT INTO {table} {columns} VALUES (%s, %s, %s, '', '', %s{cast}, %s, %s) "
                f"ON CONFLICT {_UPSERT_KEY} DO UPDATE SET {_UPSERT_SET}",
                [
                    (kind, SubjectType.CUSTOMER.value, customer, entries, run_id, stamp)
                    for kind, customer, entries in values
                ],
            )
            return
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} "
            "(kind varchar(32), subject_id bigint, entries text) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_STAGED}")  # a caller's transaction may span chunks
        with cursor.copy(f"COPY {_STAGED} (kind, subject_id, entries) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} {columns} SELECT kind, %s, subject_id, '', '', "
            f"entries::jsonb, %s, %s FROM {_STAGED} "
            f"ON CONFLICT {_UPSERT_KEY} DO UPDATE SET {_UPSERT_SET}",
            [SubjectType.CUSTOMER.value, run_id, stamp],
        )


def _copies_rows() -> bool:
    """Whether the connection is PostgreSQL through psycopg 3, whose cursors ``COPY``."""
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


@dataclass
class OwnedNames:
    """Names of what the customers being written bought: the only products a reason
    names ("Because you bought X"), so one read per chunk whatever the size of the
    catalogue; a product asked for once (named or not) is not asked for again."""

    names: dict[int, str] = field(default_factory=dict)
    asked: set[int] = field(default_factory=set)

    def of(self, ctx: ScoringContext, rows: np.ndarray) -> dict[int, str]:
        """Names of every product the customers in ``rows`` bought (and earlier ones)."""
        owned = ctx.model.item_ids[np.unique(ctx.history.baskets[rows].indices)].tolist()
        fresh = [product for product in owned if product not in self.asked]
        self.asked.update(fresh)
        self.names.update(_names(fresh))
        return self.names


# Per-product lists ------------------------------------------------------------------


def similar_lists(model: RecommenderModel, size: int) -> dict[int, list[tuple[int, float]]]:
    """Nearest products by the hybrid embeddings (cosine)."""
    vectors = model.factorisation.item_vectors
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit = vectors / norms
    out = {}
    take = min(size, len(model.item_ids) - 1)
    if take < 1:
        return out
    for start in range(0, len(unit), 1000):
        sims = unit[start : start + 1000] @ unit.T
        for j in range(len(sims)):
            sims[j, start + j] = -np.inf
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        for j, cols in enumerate(top):
            ordered = cols[np.argsort(-sims[j, cols])]
            out[int(model.item_ids[start + j])] = [
                (int(model.item_ids[c]), float(sims[j, c])) for c in ordered
            ]
    return out


def _substitutes(a: ItemProfile | None, b: ItemProfile | None) -> bool:
    """Two products that replace rather than complete each other."""
    if a is None or b is None:
        return False
    if a.category_path and a.category_path == b.category_path and a.product_type == b.product_type:
        return True
    words_a = {w for w in a.name.lower().split() if len(w) > 2}
    words_b = {w for w in b.name.lower().split() if len(w) > 2}
    union = words_a | words_b
    return bool(union) and len(words_a & words_b) / len(union) >= 0.5


def bought_together(
    events: EventRows, size: int, *, min_baskets: int = 3, max_basket: int = 50
) -> dict[int, list[tuple[int, float]]]:
    """Products bought in the same orders more often than chance (lift), not substitutes."""
    purchases = events.purchases()
    if not len(purchases):
        return {}
    baskets, basket_index = np.unique(purchases.baskets, return_inverse=True)
    products, product_index = np.unique(purchases.products, return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(basket_index), dtype=np.float32), (basket_index, product_index)),
        shape=(len(baskets), len(products)),
    )
    matrix.data[:] = 1.0
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = matrix[(sizes >= 2) & (sizes <= max_basket)]
    n_baskets = matrix.shape[0]
    if not n_baskets:
        return {}
    support = np.asarray(matrix.sum(axis=0)).ravel()
    co = (matrix.T @ matrix).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    profiles = ItemProfile.objects.in_bulk([int(p) for p in products])
    out = {}
    for a in range(co.shape[0]):
        start, end = co.indptr[a], co.indptr[a + 1]
        cols, counts = co.indices[start:end], co.data[start:end]
        keep = counts >= min_baskets
        cols, counts = cols[keep], counts[keep]
        if not len(cols):
            continue
        lift = counts * n_baskets / (support[a] * support[cols])
        # Lift favours rare pairs; weigh by how often the pair actually occurs.
        strength = lift * np.log1p(counts)
        order = np.argsort(-strength)
        chosen = []
        pa = profiles.get(int(products[a]))
        for k in order:
            b = int(products[cols[k]])
            if lift[k] <= 1.0 or _substitutes(pa, profiles.get(b)):
                continue
            chosen.append((b, float(strength[k])))
            if len(chosen) >= size:
                break
        if chosen:
            out[int(products[a])] = chosen
    return out


def _write_product_kind(
    run: ModelRun | None, kind: str, lists: dict[int, list[tuple[int, float]]], template: str
) -> int:
    """Replace every list of ``kind``: the new ones upserted, the rest deleted."""
    stamp = timezone.now()
    names = _names(lists)

    def ranked(product: int, items: list[tuple[int, float]]) -> list[ListEntry]:
        reason = template.format(names.get(product, "this product"))
        return [_entry(p, score, reason) for p, score in items]

    with transaction.atomic():
        written = _write(
            RecommendationList.build(
                ListKey.of(kind, SubjectType.PRODUCT, product), ranked(product, items), run, stamp
            )
            for product, items in lists.items()
        )
        RecommendationList.objects.filter(kind=kind, generated_at__lt=stamp).delete()
    return written


def write_reorder_list(run: ModelRun | None, model: RecommenderModel) -> dict[str, int]:
    """The products customers reorder, so serving can keep them in view after a purchase.

    Every list a shopper sees leaves out what they bought recently, except these
    (:func:`~saleor_personalization.recommender.rules.shopper_exclusions`).
    """
    reorder = reorder_mask(model)
    items = [
        _entry(int(product), float(rate), "")
        for product, rate in zip(model.item_ids[reorder], model.repeat_rates[reorder], strict=True)
    ]
    with transaction.atomic():
        written = _write(
            [RecommendationList.build(ListKey(ListKind.REORDER), items, run, timezone.now())]
        )
    return {"reorder": written}


def write_similar_lists(run: ModelRun | None, model: RecommenderModel, size: int) -> dict[str, int]:
    similar = similar_lists(model, size)
    return {"similar": _write_product_kind(run, ListKind.SIMILAR, similar, "Similar to {}")}


def write_bought_together_lists(
    run: ModelRun | None, purchases: EventRows, size: int
) -> dict[str, int]:
    """From every order's basket, guests' included: a young shop has mostly guests."""
    together = bought_together(purchases, size)
    return {
        "bought_together": _write_product_kind(
            run, ListKind.BOUGHT_TOGETHER, together, "Often bought with {}"
        )
    }


# Trending and popular ----------------------------------------------------------------


def write_popular_and_trending(
    run: ModelRun | None,
    *,
    now: datetime,
    size: int,
    trending_days: int = 7,
    baseline_days: int = 28,
    popular_days: int = 90,
) -> dict[str, int]:
    """Bestsellers per channel (and per country) and what is rising per channel/category."""

    from ..models import Interaction, InteractionKind

    stamp = timezone.now()
    signals = [InteractionKind.PURCHASE, InteractionKind.ADD_TO_CART]
    since = now - timedelta(days=max(popular_days, trending_days + baseline_days))
    rows = (
        Interaction.objects.filter(occurred_at__gte=since, occurred_at__lt=now, kind__in=signals)
        .values_list("channel", "product_id", "customer_id", "occurred_at")
        .iterator(chunk_size=20_000)
    )
    countries = dict(
        CustomerProfile.objects.exclude(country="").values_list("customer_id", "country")
    )
    popular: dict[tuple[str, str], Counter] = defaultdict(Counter)
    recent: dict[str, Counter] = defaultdict(Counter)
    base: dict[str, Counter] = defaultdict(Counter)
    popular_since = now - timedelta(days=popular_days)
    recent_since = now - timedelta(days=trending_days)
    base_since = recent_since - timedelta(days=baseline_days)
    for channel, product, customer, when in rows:
        if when >= popular_since:
            popular[(channel, "")][product] += 1
            country = countries.get(customer)
            if country:
                popular[(channel, country)][product] += 1
        if when >= recent_since:
            recent[channel][product] += 1
        elif when >= base_since:
            base[channel][product] += 1

    written = {"popular": 0, "trending": 0}
    entries = []
    for (channel, country), counts in popular.items():
        reason = f"Popular in {country}" if country else "Bestseller"
        key = ListKey.for_country(ListKind.POPULAR, country, channel)
        entries.append(
            RecommendationList.build(
                key, [_entry(p, c, reason) for p, c in counts.most_common(size)], run, stamp
            )
        )
    categories = dict(ItemProfile.objects.values_list("product_id", "category_id"))
    for channel, counts in recent.items():
        ratio = trending_days / baseline_days
        scored = {
            p: (c + 1) / (base[channel][p] * ratio + 2) * math.log1p(c) for p, c in counts.items()
        }
        ranked = sorted(scored.items(), key=lambda kv: -kv[1])
        by_category: dict[int | None, list] = defaultdict(list)
        for product, score in ranked:
            category = categories.get(product)
            if category is not None:
                by_category[int(category)].append((product, score))
        by_category[None] = ranked
        for category, items in by_category.items():
            key = (
                ListKey(ListKind.TRENDING, channel=channel)
                if category is None
                else ListKey.of(ListKind.TRENDING, SubjectType.CATEGORY, category, channel)
            )
            entries.append(
                RecommendationList.build(
                    key, [_entry(p, s, "Trending now") for p, s in items[:size]], run, stamp
                )
            )
    with transaction.atomic():
        count = _write(entries)
        RecommendationList.objects.filter(
            kind__in=[ListKind.POPULAR, ListKind.TRENDING], generated_at__lt=stamp
        ).delete()
    written["popular"] = sum(1 for e in entries if e.kind == ListKind.POPULAR)
    written["trending"] = count - written["popular"]
    return written
