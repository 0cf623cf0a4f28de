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
from .data import EventRows, InteractionData, PurchaseLog, build_interactions, positions
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
    ids = sorted(set(map(int, product_ids)))
    if connection.vendor != "postgresql":
        return dict(
            ItemProfile.objects.filter(product_id__in=ids).values_list("product_id", "name")
        )
    # On PostgreSQL the ids are one array: a chunk's first read asks for thousands of
    # products, and a placeholder each cost more to send than the read itself.
    table = connection.ops.quote_name(ItemProfile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT product_id, name FROM {table} WHERE product_id = ANY(%s)", [ids])
        return dict(cursor.fetchall())


# Personal lists ------------------------------------------------------------------


# A context's co-purchase weights are made dense once it has looked up pairs as many
# as the dense copy's cells / this (see ScoringContext.link_weights): a sparse lookup
# costs about as much as this many cells of the copy.
DENSE_LINKS_SHARE = 16


@dataclass(frozen=True)
class SharedBuyers:
    """Which products some customer bought together: each product's buyers as a set of
    bits, so whether two products share a buyer is an ``and`` of two short rows.

    "Because you bought X" is said only of a product X shares a buyer with (the ridge
    model can link two products nobody bought together, through a third). Only the pairs
    a chunk's reasons ask about are looked at, a few per entry, where counting every
    pair's shared buyers (a sparse product as dense as the co-purchase matrix) was most
    of the time spent writing a chunk.
    """

    bits: np.ndarray  # (products, words) of uint64: bit b of a row = buyer b bought it

    @classmethod
    def from_bought(cls, bought: sp.spmatrix, n_items: int) -> "SharedBuyers":
        """From a buyers-by-products matrix (non-zero: bought)."""
        coo = sp.coo_matrix(bought)
        buyers, cols = coo.row[coo.data != 0], coo.col[coo.data != 0]
        words = max(-(-bought.shape[0] // 64), 1)
        bits = np.zeros((n_items, words), dtype=np.uint64)
        if len(cols):
            key = cols.astype(np.int64) * words + buyers // 64
            order = np.argsort(key, kind="stable")
            key = key[order]
            values = np.left_shift(np.uint64(1), (buyers[order] % 64).astype(np.uint64))
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            bits.reshape(-1)[key[starts]] = np.bitwise_or.reduceat(values, starts)
        return cls(bits)

    def shared(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether products (columns) ``a[i]`` and ``b[i]`` have a buyer in common.

        Each distinct pair is looked at once, in order: a chunk's lists ask about the
        same pairs of popular products many times (three to four times on Online Retail).
        """
        pairs, inverse = np.unique(
            np.asarray(a, dtype=np.int64) * len(self.bits) + b, return_inverse=True
        )
        a, b = np.divmod(pairs, len(self.bits))
        out = np.zeros(len(pairs), dtype=bool)
        for start in range(0, len(pairs), 65_536):  # bounded temporaries
            part = slice(start, start + 65_536)
            out[part] = np.any(self.bits[a[part]] & self.bits[b[part]], axis=1)
        return out[inverse.reshape(-1)]


@dataclass
class ScoringContext:
    """What every chunk of personal lists needs, computed once per scoring run."""

    model: RecommenderModel
    history: InteractionData
    new: NewProducts
    reorder: np.ndarray
    buyers: SharedBuyers  # who bought what, for the links behind "Because you bought X"
    features: FeatureSource
    _weights: np.ndarray | sp.csr_matrix | None = field(default=None, repr=False)
    _asked: int = field(default=0, repr=False)

    @property
    def item_ids(self) -> np.ndarray:
        """Every product the lists can show: the model's, then the new ones."""
        return np.concatenate([self.model.item_ids.astype(np.int64), self.new.ids])

    def link_weights(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The model's co-purchase weight from each source column to its target column,
        as float32 (the precision the lists are ranked in).

        Looked up in the sparse weights (a binary search in a row) until the context has
        asked for about as many pairs as a dense copy has cells / DENSE_LINKS_SHARE; then
        from a dense copy, while that is small (the model's own limit for dense
        co-purchase weights): a chunk of customers with long histories asks for
        millions of pairs, a rescoring after an order for a few hundred. The dense copy
        is the model's, kept by target (:meth:`RecommenderModel.copurchase_by_target`):
        an entry's pairs have one target and its customer's sources in column order, so
        they are read along one row of it instead of one cache line per pair.
        """
        if self._weights is None:
            self._weights = sp.csr_matrix(self.model.copurchase, dtype=np.float32)
            self._weights.sum_duplicates()  # canonical: sorted, so a lookup is a search
        self._asked += len(sources)
        n_items = self._weights.shape[0]
        if (
            isinstance(self._weights, sp.csr_matrix)
            and n_items <= DENSE_COPURCHASE_LIMIT
            and self._asked * DENSE_LINKS_SHARE >= n_items * n_items
        ):
            self._weights = self.model.copurchase_by_target()
        if isinstance(self._weights, np.ndarray):
            cells = np.asarray(targets, dtype=np.int64) * n_items + sources
            return np.take(self._weights.reshape(-1), cells)
        if not len(sources):
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._weights[sources, targets], dtype=np.float32).ravel()


def scoring_context(
    model: RecommenderModel,
    events: EventRows,
    customer_ids: Sequence[int],
    now: datetime,
    log: PurchaseLog | None = None,
) -> ScoringContext:
    """History of these customers now, and the products created since training.

    ``log``: other customers' purchases come from it (see :func:`owned_products_buyers`), and
    ``events`` need only be these customers'; without it, ``events`` are every
    customer's (:func:`every_buyer`).
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
        buyers=(
            every_buyer(model, events.before(now))
            if log is None
            else owned_products_buyers(model, history, log)
        ),
        features=features,
    )


def every_buyer(model: RecommenderModel, events: EventRows) -> SharedBuyers:
    """Every customer's purchases of the model's products in ``events``."""
    purchases = events.purchases()
    cols = positions(model.item_ids, purchases.products)
    known = cols >= 0
    customers, rows = np.unique(purchases.customers[known], return_inverse=True)
    bought = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (rows, cols[known])),
        shape=(len(customers), len(model.item_ids)),
    )
    return SharedBuyers.from_bought(bought, len(model.item_ids))


def with_log_buyers(ctx: ScoringContext, log: PurchaseLog) -> ScoringContext:
    """``ctx`` with its buyers from :func:`owned_products_buyers`."""
    return replace(ctx, buyers=owned_products_buyers(ctx.model, ctx.history, log))


def owned_products_buyers(
    model: RecommenderModel, history: InteractionData, log: PurchaseLog
) -> SharedBuyers:
    """The buyers of :func:`every_buyer` that reasons can ask about: the customers of
    ``history`` and everyone else who bought one of their products.

    Other customers' purchases come from ``log``; the scored customers' own from
    ``history``, as just read. A reason only asks whether a product a scored customer
    owns shares a buyer with another product, which only a buyer of the owned product
    can answer, so those two products share one here exactly when they do among every
    customer. A rescoring after an order reads a few products' buyers instead of the
    whole log.
    """
    owned = np.unique(history.baskets.indices)
    others = log.co_buyer_purchases(owned, until=history.as_of, excluding=history.user_ids)
    return SharedBuyers.from_bought(sp.vstack([others, history.baskets]), len(model.item_ids))


@dataclass(frozen=True)
class RankedList:
    """One personal list in rank order, as arrays."""

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


@dataclass(frozen=True)
class RankedChunk:
    """One kind of personal list for a chunk of customers, ranked and explained, as
    blocks: row ``j`` holds customer ``j``'s list in its first ``lengths[j]`` places.

    ``codes`` are reasons as numbers (see :class:`ReasonWriter`), ``texts`` the reason
    of each code. The writer makes every row's JSON from these blocks
    (:class:`JsonTexts`); :meth:`lists` gives the same lists one object each.
    """

    columns: np.ndarray  # (customers, width) product columns of the context
    lengths: np.ndarray
    scores: np.ndarray  # (customers, width), as ranked
    codes: np.ndarray
    texts: np.ndarray

    def lists(self, item_ids: np.ndarray, known: int) -> list[RankedList]:
        return [
            RankedList(
                item_ids[cols[:length]],
                scores[:length].astype(np.float64),
                self.texts[codes[:length]].tolist(),
                cols[:length] >= known,
            )
            for cols, scores, codes, length in zip(
                self.columns, self.scores, self.codes, self.lengths.tolist(), strict=True
            )
        ]


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
    users, for_you, buy_again = ranked_chunks(ctx, rows, options, names)
    item_ids, known = ctx.item_ids, len(ctx.model.item_ids)
    return [
        (int(user_id), mine, again)
        for user_id, mine, again in zip(
            users,
            for_you.lists(item_ids, known),
            buy_again.lists(item_ids, known),
            strict=True,
        )
    ]


def ranked_chunks(
    ctx: ScoringContext, rows: np.ndarray, options: ListOptions, names: dict[int, str]
) -> tuple[np.ndarray, RankedChunk, RankedChunk]:
    """The customers of ``rows`` of the context's history, their *for you* lists and
    their *buy again* lists, each kind as one :class:`RankedChunk`."""
    model, history = ctx.model, ctx.history
    users = history.user_ids[rows]
    ranked = rank(
        model,
        history,
        rows,
        unseen_customer_features(ctx, users),
        new=ctx.new,
        recently_bought_days=options.recently_bought_days,
    )
    owned = history.baskets[rows].tocsr()
    chunks = [
        ReasonWriter(ctx, ranked.parts, weights, names).chunk(
            scores, top_columns(scores, options.size), owned
        )
        for scores, weights in (
            (ranked.for_you, model.weights_new),
            (ranked.buy_again, model.weights_all),
        )
    ]
    return users, chunks[0], chunks[1]


def unseen_customer_features(ctx: ScoringContext, users: np.ndarray) -> list[list[str]]:
    """Feature rows of ``users`` for :func:`rank`: read only for the customers the model
    was not trained on, empty for the others. Only an unseen customer's vector is made
    from features (:meth:`RecommenderModel.user_factors`); reading every customer's
    profile was a database read per chunk for nothing."""
    rows: list[list[str]] = [[] for _ in range(len(users))]
    unseen = [k for k, user in enumerate(users.tolist()) if user not in ctx.model.user_index]
    if unseen:
        for k, row in zip(unseen, ctx.features.customers(users[unseen]), strict=True):
            rows[k] = row
    return rows


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
    that is neither new nor owned is read in one indexing operation, and the owned
    product behind "Because you bought X" is searched for every entry that needs it
    at once (:meth:`_sources`). Reasons are numbers (codes) until each distinct one is
    written out once.
    """

    def __init__(self, ctx: ScoringContext, parts, weights, names: dict[int, str]):
        self.ctx, self.parts, self.names = ctx, parts, names
        self.item_ids = ctx.model.item_ids
        self.known = len(ctx.model.item_ids)
        self.weights = np.array([getattr(weights, n) for n in COMPONENTS], dtype=np.float32)
        self.trending = ctx.model.trend > 0
        self.discovered = ctx.model.first_buyers > 0

    def chunk(
        self, scores: np.ndarray, cols: list[np.ndarray], owned: sp.csr_matrix
    ) -> RankedChunk:
        """Each customer's ``cols`` (best first, of ``scores``' columns) with their scores
        and reasons (``owned``: the chunk's purchases)."""
        n = len(cols)
        lengths = np.fromiter((len(c) for c in cols), dtype=np.int64, count=n)
        width = int(lengths.max(initial=0))
        valid = np.arange(width) < lengths[:, np.newaxis]
        grid = np.zeros((n, width), dtype=np.int64)
        if width:
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
        return RankedChunk(
            columns=grid,
            lengths=lengths,
            scores=np.take_along_axis(scores, grid, axis=1),
            codes=codes,
            texts=self._texts(codes),
        )

    def _bought(self, grid: np.ndarray, owned: sp.csr_matrix) -> np.ndarray:
        """Whether each entry of ``grid`` is a product its customer bought (a lookup in
        the chunk's purchases as a dense block of flags)."""
        width = max(self.known, owned.shape[1], int(grid.max(initial=0)) + 1)
        flags = np.zeros((owned.shape[0], width), dtype=bool)
        flags[np.repeat(np.arange(owned.shape[0]), np.diff(owned.indptr)), owned.indices] = True
        return np.take_along_axis(flags, grid, axis=1)

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
        # First buyers in the trend window are sales in it: trending is true of them too.
        trending = lifted & (
            ((main == COMPONENTS.index("trend")) & self.trending[cols])
            | ((main == COMPONENTS.index("first_buyers")) & self.discovered[cols])
        )
        codes[trending] = _TRENDING_CODE
        wants_source = np.flatnonzero(lifted & (main == COMPONENTS.index("copurchase")))
        sources = self._sources(rows[wants_source], cols[wants_source], owned)
        found = sources >= 0
        codes[wants_source[found]] = _SOURCE_CODES + sources[found]
        return codes

    def _sources(self, rows: np.ndarray, cols: np.ndarray, owned: sp.csr_matrix) -> np.ndarray:
        """For each entry (customer ``rows[i]``, known column ``cols[i]``), the owned product
        linking to it most strongly (of equal weights, the lowest column), -1 for none.

        A link is a positive co-purchase weight between two products that share a buyer.
        Every (entry, owned product) pair is weighed at once and each entry's strongest
        is taken by a segmented maximum; only that pair is checked for a shared buyer
        and, where it has none, the entry looks again without it: the strongest pair
        almost always has one, so few pairs are checked and few entries look twice.

        A chunk has millions of pairs, so each pair is one 64-bit key: the bits of its
        weight (a float32 of at least 0 orders as its bits do) above, the complement of
        its source column below. One maximum per entry gives both the strongest weight
        and, of equal ones, the lowest column, with no other pass over the pairs.
        """
        found = np.full(len(rows), -1, dtype=np.int64)
        owned.sort_indices()  # each row's products by column
        counts = np.diff(owned.indptr)[rows]
        pending = np.flatnonzero(counts)
        counts = counts[pending]
        if not len(pending):
            return found
        ends = np.cumsum(counts)
        # Pairs entry by entry, each entry's owned products in the order of its row.
        first_pair = np.repeat(owned.indptr[rows[pending]] - (ends - counts), counts)
        source = owned.indices[np.arange(int(ends[-1])) + first_pair]
        weight = self.ctx.link_weights(source, np.repeat(cols[pending], counts))
        # Not positive (or NaN): no link, like a weight of 0.
        weight = np.where(weight > 0, weight, np.float32(0)).astype(np.float32, copy=False)
        keys = weight.view(np.int32).astype(np.int64) << 32
        keys |= _LOWEST_FIRST - source
        while len(pending):
            best = np.maximum.reduceat(keys, ends - counts)
            linked = best >= 1 << 32  # a positive weight
            candidate = _LOWEST_FIRST - (best & _LOWEST_FIRST)
            linked[linked] = self.ctx.buyers.shared(candidate[linked], cols[pending[linked]])
            found[pending[linked]] = candidate[linked]
            again = (best >= 1 << 32) & ~linked
            if not again.any():
                break
            keep = np.repeat(again, counts)
            keys, best = keys[keep], np.repeat(best[again], counts[again])
            keys[keys == best] = 0  # no shared buyer: not a link
            pending, counts = pending[again], counts[again]
            ends = np.cumsum(counts)
        return found

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
# The low half of a link's key in ReasonWriter._sources: this minus its source column.
_LOWEST_FIRST = np.int64(0xFFFF_FFFF)


def write_personal_lists(
    run: ModelRun | None,
    ctx: ScoringContext,
    rows: np.ndarray,
    options: ListOptions,
    now: datetime,
) -> int:
    """Both personal lists of each customer in ``rows``; returns how many customers.

    Each list's JSON is made from its chunk's blocks (:class:`JsonTexts`) and a chunk's
    rows are upserted with one statement (see :func:`_upsert_json_rows`): no object
    per entry. The names that
    reasons quote are read once per product (:class:`OwnedNames`).
    """
    stamp = timezone.now()
    written = 0
    texts = JsonTexts(ctx.item_ids)
    names = OwnedNames()
    run_id = run.pk if run is not None else None
    for start in range(0, len(rows), options.chunk):
        chunk = rows[start : start + options.chunk]
        users, for_you, buy_again = ranked_chunks(ctx, chunk, options, names.of(ctx, chunk))
        values = [
            (kind, int(customer), text)
            for kind, ranked in (
                (ListKind.PERSONAL.value, for_you),
                (ListKind.BUY_AGAIN.value, buy_again),
            )
            for customer, text in zip(users, texts.rows(ranked), strict=True)
        ]
        with transaction.atomic():
            _upsert_json_rows(values, run_id, stamp)
        written += len(users)
    return written


class JsonTexts:
    """Rows' ``entries`` JSON, as :meth:`ListEntry.to_json` makes it (``json.dumps``), from
    a chunk's blocks: the text of every entry is put together from pieces by array
    operations instead of formatting each entry in Python.

    An entry is ``{"product_id": P, "score": S, "reason": R}`` (with ``"new": true``
    for new products). The text before S is one per product, after S one per reason.
    S is ``repr(round(score, 5))``: for a float32 score ``n = rint(score * 1e5)`` is
    that rounding exactly (the product fits a double's 53 bits), and for ``|n| < 1e15``
    the shortest text of ``n / 1e5`` has n's digits, so S is n's integer part, a point
    and its five decimals without trailing zeros ("0" for none), or ``"Ne-05"`` below
    1e-4. Other scores (float64, huge or not finite) are formatted one by one.
    """

    _decimals: np.ndarray | None = None  # class-wide: ".0", ".00001", ..., ".99999"

    def __init__(self, item_ids: np.ndarray):
        if JsonTexts._decimals is None:
            JsonTexts._decimals = np.array(
                ["." + (f"{k:05d}".rstrip("0") or "0") for k in range(100_000)], dtype=object
            )
        self.item_ids = item_ids
        self._before: np.ndarray | None = None  # per product column, then the same with "-"
        self._integers = np.array([str(k) for k in range(1000)], dtype=object)

    def _heads(self) -> np.ndarray:
        if self._before is None:
            heads = [f'{{"product_id": {int(p)}, "score": ' for p in self.item_ids]
            self._before = np.array(heads + [head + "-" for head in heads], dtype=object)
        return self._before

    @staticmethod
    def _tails(texts: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The text after the score for each reason code in ``codes``."""
        tails = np.empty(len(texts), dtype=object)
        for code in np.unique(codes).tolist():
            new = ', "new": true' if code == _NEW_CODE else ""
            tails[code] = f', "reason": {json.dumps(texts[code])}{new}}}'
        return tails

    def rows(self, chunk: RankedChunk) -> list[str]:
        """Each customer's row JSON, in the chunk's order."""
        valid = np.arange(chunk.columns.shape[1]) < chunk.lengths[:, np.newaxis]
        cols, scores, codes = chunk.columns[valid], chunk.scores[valid], chunk.codes[valid]
        integers, decimals = self._digits(scores)
        negative = np.signbit(scores) if scores.dtype == np.float32 else np.zeros(len(cols), bool)
        entries = (
            self._heads()[cols + len(self.item_ids) * negative]
            + integers
            + decimals
            + self._tails(chunk.texts, codes)[codes]
        )
        ends = np.cumsum(chunk.lengths)
        return [
            "[" + ", ".join(entries[start:end].tolist()) + "]"
            for start, end in zip((ends - chunk.lengths).tolist(), ends.tolist(), strict=True)
        ]

    def _digits(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each score's text after its sign, in two parts (integer part, the rest)."""
        if scores.dtype != np.float32:
            texts = [json.dumps(round(float(s), 5)) for s in scores.tolist()]
            return np.array(texts, dtype=object), np.full(len(texts), "", dtype=object)
        with np.errstate(invalid="ignore", over="ignore"):
            hundred_thousandths = np.rint(np.abs(scores.astype(np.float64)) * 1e5)
            plain = hundred_thousandths < 1e15  # False for inf and NaN
            n = np.where(plain, hundred_thousandths, 0).astype(np.int64)
        whole = n // 100_000
        integers = np.empty(len(n), dtype=object)
        small = whole < len(self._integers)
        integers[small] = self._integers[whole[small]]
        integers[~small] = [str(k) for k in whole[~small].tolist()]
        decimals = JsonTexts._decimals[n % 100_000]
        tiny = (n > 0) & (n < 10)  # below 1e-4: repr writes "Ne-05"
        integers[tiny] = [f"{k}e-05" for k in n[tiny].tolist()]
        decimals[tiny] = ""
        odd = np.flatnonzero(~plain)
        integers[odd] = [json.dumps(round(abs(float(s)), 5)) for s in scores[odd].tolist()]
        decimals[odd] = ""
        return integers, decimals


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
