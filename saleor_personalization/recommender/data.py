"""The interaction matrices every model component learns from.

Rows are customers, columns products. Three views of the same log:

- ``baskets``: distinct baskets (orders) in which the customer bought the product;
- ``last_purchase_age``: days from the product's last purchase to ``as_of``;
- ``weights``: every event kind weighted (a purchase counts more than a view) and
  decayed with age, for LightFM's sample weights.
"""

import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import scipy.sparse as sp
from django.db import connections
from django.db.models import FloatField
from django.db.models.functions import Cast, Extract

from ..models import Interaction, InteractionKind

# How much one event says about interest, relative to a view.
EVENT_WEIGHTS = {
    InteractionKind.VIEW: 1.0,
    InteractionKind.RECOMMENDATION_CLICK: 1.5,
    InteractionKind.ADD_TO_CART: 3.0,
    InteractionKind.CHECKOUT_STARTED: 3.5,
    InteractionKind.PURCHASE: 5.0,
}
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class EventRows:
    """The log as parallel arrays (customer, product, kind code, basket code, time)."""

    customers: np.ndarray
    products: np.ndarray
    kinds: np.ndarray
    baskets: np.ndarray
    times: np.ndarray  # seconds since the epoch

    KIND_CODES = {kind: code for code, kind in enumerate(InteractionKind.values)}

    @classmethod
    def from_tuples(cls, rows: Iterable[tuple[int, int, str, str, datetime]]) -> "EventRows":
        return cls.from_seconds(
            (customer, product, kind, basket, when.timestamp())
            for customer, product, kind, basket, when in rows
        )

    @classmethod
    def from_seconds(cls, rows: Iterable[tuple[int, int, str, str, float]]) -> "EventRows":
        """From rows whose time is in seconds since the epoch."""
        customers, products, kinds, baskets, times = [], [], [], [], []
        basket_codes: dict[str, int] = {}
        for customer, product, kind, basket, when in rows:
            customers.append(customer)
            products.append(product)
            kinds.append(cls.KIND_CODES[kind])
            baskets.append(basket_codes.setdefault(basket, len(basket_codes)))
            times.append(when)
        return cls(
            customers=np.asarray(customers, dtype=np.int64),
            products=np.asarray(products, dtype=np.int64),
            kinds=np.asarray(kinds, dtype=np.int8),
            baskets=np.asarray(baskets, dtype=np.int64),
            times=np.asarray(times, dtype=np.float64),
        )

    @classmethod
    def from_database(cls, *, until: datetime | None = None) -> "EventRows":
        """Customers' events (anonymous ones are merged into customers when known)."""
        events = Interaction.objects.filter(customer_id__isnull=False)
        if until is not None:
            events = events.filter(occurred_at__lt=until)
        return cls.from_tuples(
            events.order_by()
            .values_list("customer_id", "product_id", "kind", "basket_ref", "occurred_at")
            .iterator(chunk_size=20_000)
        )

    @classmethod
    def for_scoring(cls, customer_ids: Sequence[int], *, until: datetime) -> "EventRows":
        """The events of these customers before ``until``: their lists' own history.

        One query on the (customer, time) index, so basket codes agree and a customer's
        rescoring reads their rows only. The links behind "Because you bought X" also
        depend on other customers' purchases: those come from the process's
        :class:`PurchaseLog`, not from this read.
        """
        customers = [int(c) for c in customer_ids]
        events = Interaction.objects.filter(customer_id__in=customers, occurred_at__lt=until)
        if connections[events.db].vendor == "postgresql":
            return cls._aggregated(events.db, customers, until)
        fields = ("customer_id", "product_id", "kind", "basket_ref", "occurred_at")
        return cls.from_tuples(events.order_by().values_list(*fields).iterator(20_000))

    @classmethod
    def _aggregated(cls, alias: str, customers: list[int], until: datetime) -> "EventRows":
        """:meth:`for_scoring` on PostgreSQL: each column comes as one byte string of
        packed big-endian numbers (``int8send`` and the like, joined by ``string_agg``),
        which numpy reads without a Python object per event. Arrays of values made a
        Python object per field and per event, and a basket code was looked up in a dict
        per event: most of the time of reading a chunk.

        A kind comes as its code. A basket comes as a 64-bit hash of its reference
        (``hashtextextended``), coded here in the hash's order: codes are only compared
        within a customer (their distinct orders), where two of a customer's hundreds of
        baskets share a hash with a probability of about 1e-15. The seconds come from the
        server (see :func:`_purchase_rows`; ``date_part`` gives the double ``EXTRACT``'s
        numeric is cast to, without the numeric). Every aggregate of the one query reads
        the rows in the same order, so the columns line up."""
        table = connections[alias].ops.quote_name(Interaction._meta.db_table)
        kinds = " ".join(f"WHEN '{kind}' THEN {code}" for kind, code in cls.KIND_CODES.items())
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT string_agg(int8send(customer_id), ''), "
                "string_agg(int8send(product_id), ''), "
                f"string_agg(int2send((CASE kind {kinds} ELSE -1 END)::int2), ''), "
                "string_agg(int8send(hashtextextended(basket_ref, 0)), ''), "
                "string_agg(float8send(date_part('epoch', occurred_at)), '') "
                f"FROM {table} WHERE customer_id = ANY(%s) AND occurred_at < %s",
                [customers, until],
            )
            customer, product, kind, basket, seconds = cursor.fetchone()
        if customer is None:
            return cls.from_seconds([])
        kind_codes = np.frombuffer(kind, dtype=">i2")
        if (kind_codes < 0).any():
            raise ValueError("an interaction of an unknown kind")
        return cls(
            customers=np.frombuffer(customer, dtype=">i8").astype(np.int64),
            products=np.frombuffer(product, dtype=">i8").astype(np.int64),
            kinds=kind_codes.astype(np.int8),
            baskets=np.unique(np.frombuffer(basket, dtype=">i8"), return_inverse=True)[1].astype(
                np.int64
            ),
            times=np.frombuffer(seconds, dtype=">f8").astype(np.float64),
        )

    @classmethod
    def all_purchases(cls, *, until: datetime | None = None) -> "EventRows":
        """Every order line, guests' too (customer 0): baskets for co-purchase counts."""
        events = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
        if until is not None:
            events = events.filter(occurred_at__lt=until)
        return cls.from_tuples(
            (customer or 0, product, kind, basket, when)
            for customer, product, kind, basket, when in events.order_by()
            .values_list("customer_id", "product_id", "kind", "basket_ref", "occurred_at")
            .iterator(chunk_size=20_000)
        )

    def __len__(self) -> int:
        return len(self.customers)

    def before(self, moment: datetime) -> "EventRows":
        return self._select(self.times < moment.timestamp())

    def between(self, start: datetime, end: datetime) -> "EventRows":
        return self._select((self.times >= start.timestamp()) & (self.times < end.timestamp()))

    def purchases(self) -> "EventRows":
        return self._select(self.kinds == self.KIND_CODES[InteractionKind.PURCHASE])

    def _select(self, mask: np.ndarray) -> "EventRows":
        return EventRows(
            self.customers[mask],
            self.products[mask],
            self.kinds[mask],
            self.baskets[mask],
            self.times[mask],
        )

    @property
    def last_time(self) -> datetime | None:
        if not len(self):
            return None
        return datetime.fromtimestamp(float(self.times.max()), tz=UTC)

    @property
    def first_time(self) -> datetime | None:
        if not len(self):
            return None
        return datetime.fromtimestamp(float(self.times.min()), tz=UTC)


# Every customer's purchases, one copy per process ----------------------------------

# A copy older than this is read again in full; until then, rows recorded since the
# last read are added to it (a read of the rows after the newest one it holds).
PURCHASE_LOG_MAX_AGE_SECONDS = 300.0
_READ_CHUNK = 50_000
_DTYPES = (np.int64, np.int64, np.int64, np.float64)


def _purchase_rows(after_pk: int = 0) -> Iterator[tuple[int, int, int, float]]:
    """(pk, customer, product, seconds since the epoch) of customers' purchase rows after
    ``after_pk``. PostgreSQL sends the seconds: making 400,000 datetimes in Python is
    most of the time of reading a shop's orders."""
    rows = Interaction.objects.filter(
        kind=InteractionKind.PURCHASE, customer_id__isnull=False, pk__gt=after_pk
    ).order_by()
    if connections[rows.db].vendor == "postgresql":
        seconds = Cast(Extract("occurred_at", "epoch"), FloatField())
        return rows.values_list("pk", "customer_id", "product_id", seconds).iterator(
            chunk_size=_READ_CHUNK
        )
    return (
        (pk, customer, product, when.timestamp())
        for pk, customer, product, when in rows.values_list(
            "pk", "customer_id", "product_id", "occurred_at"
        ).iterator(chunk_size=_READ_CHUNK)
    )


def _columns(rows: Iterable[tuple[int, int, int, float]]) -> list[np.ndarray]:
    """The rows as four arrays, converted a chunk at a time (no list of every row)."""
    parts: list[list[np.ndarray]] = [[np.zeros(0, dtype=t)] for t in _DTYPES]
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, _READ_CHUNK)):
        for part, values, dtype in zip(parts, zip(*chunk, strict=True), _DTYPES, strict=True):
            part.append(np.asarray(values, dtype=dtype))
    return [np.concatenate(part) for part in parts]


def _first_of_pairs(
    customers: np.ndarray, cols: np.ndarray, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (customer, column) pairs sorted by customer then column, each at its
    earliest time."""
    order = np.lexsort((times, cols, customers))
    customers, cols, times = customers[order], cols[order], times[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (customers[1:] != customers[:-1]) | (cols[1:] != cols[:-1])
    return customers[first], cols[first], times[first]


@dataclass
class PurchaseLog:
    """Who bought which of a model's products, every customer, kept by a worker process.

    A customer's "Because you bought X" links depend on every customer who bought one of
    their products; reading the whole log for that took seconds per rescoring (Online
    Retail: 386,000 rows). This copy holds distinct (customer, product) pairs with the
    time of their first purchase, as a sparse customers-by-products matrix, so the
    co-buyers of a few products are a column slice and their other purchases a sparse
    product: milliseconds.

    It is read in full once per process, again when older than
    :data:`PURCHASE_LOG_MAX_AGE_SECONDS` or when another model went live (after a
    training run: :func:`purchase_log`), and otherwise brought up to date with the rows
    recorded since its newest one. Rows changed in place (a guest order linked to a
    customer later, an erasure) reach it at the next full read; the customers being
    scored never depend on it for their own purchases (:meth:`co_buyer_purchases`).
    """

    item_ids: np.ndarray  # the columns: the model's products
    customers: np.ndarray  # one per pair, sorted
    cols: np.ndarray  # the pair's column, sorted within a customer
    first: np.ndarray  # seconds since the epoch of the pair's first purchase
    last_pk: int  # the newest Interaction row read
    read_at: float  # time.monotonic() of the full read
    version: object = None
    _matrices: tuple = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        """Customer ids (rows) and the pairs as a CSR and a CSC matrix of first times,
        made whenever the pairs change (under :func:`purchase_log`'s lock) and replaced
        whole, so a reader holding the old tuple reads consistent arrays."""
        starts = np.flatnonzero(np.r_[True, self.customers[1:] != self.customers[:-1]])
        if not len(self.customers):
            starts = np.zeros(0, dtype=np.int64)
        indptr = np.r_[starts, len(self.customers)]
        times = sp.csr_matrix(
            (self.first, self.cols, indptr), shape=(len(starts), len(self.item_ids))
        )
        self._matrices = (self.customers[starts], times, times.tocsc())

    @classmethod
    def read(cls, item_ids: np.ndarray, version: object = None) -> "PurchaseLog":
        read_at = time.monotonic()
        item_ids = np.asarray(item_ids, dtype=np.int64)
        pks, customers, products, times = _columns(_purchase_rows())
        cols = positions(item_ids, products)
        known = cols >= 0
        return cls(
            item_ids,
            *_first_of_pairs(customers[known], cols[known], times[known]),
            last_pk=int(pks.max()) if len(pks) else 0,
            read_at=read_at,
            version=version,
        )

    def __len__(self) -> int:
        return len(self.customers)

    def catch_up(self) -> int:
        """Add the purchases recorded since the newest row held; returns how many rows."""
        pks, customers, products, times = _columns(_purchase_rows(self.last_pk))
        if not len(pks):
            return 0
        self.last_pk = max(self.last_pk, int(pks.max()))
        cols = positions(self.item_ids, products)
        known = cols >= 0
        self._add(*_first_of_pairs(customers[known], cols[known], times[known]))
        return len(pks)

    def _add(self, customers: np.ndarray, cols: np.ndarray, times: np.ndarray) -> None:
        if not len(customers):
            return
        if len(customers) > max(1000, len(self) // 20):
            joined = _first_of_pairs(
                np.concatenate([self.customers, customers]),
                np.concatenate([self.cols, cols]),
                np.concatenate([self.first, times]),
            )
            self.customers, self.cols, self.first = joined
        else:  # a few orders: into place, without sorting everything again
            at, new = [], []
            first = self.first.copy()  # a matrix made from the old one may be in use
            for customer, col, when in zip(customers, cols, times, strict=True):
                start = np.searchsorted(self.customers, customer, "left")
                end = np.searchsorted(self.customers, customer, "right")
                place = start + np.searchsorted(self.cols[start:end], col)
                if place < end and self.cols[place] == col:
                    first[place] = min(first[place], when)
                else:
                    at.append(place)
                    new.append((customer, col, when))
            if at:
                values = list(zip(*new, strict=True))
                self.customers = np.insert(self.customers, at, values[0])
                self.cols = np.insert(self.cols, at, values[1])
                first = np.insert(first, at, values[2])
            self.first = first
        self._index()

    def co_buyers(self, cols: np.ndarray, *, until: datetime) -> np.ndarray:
        """Customers who bought one of the products in columns ``cols`` before ``until``
        (sorted, distinct)."""
        matrices = self._matrices
        return matrices[0][_buyer_rows(matrices, cols, until.timestamp())]

    def co_buyer_purchases(
        self, cols: np.ndarray, *, until: datetime, excluding: np.ndarray
    ) -> sp.csr_matrix:
        """What the customers who bought one of the products in columns ``cols`` before
        ``until`` bought before then: a row of ones per such customer, a column per
        product. No customer in ``excluding`` (those being scored: their purchases are
        read fresh)."""
        matrices = self._matrices  # one snapshot: a catch-up may replace them meanwhile
        ids, times, _ = matrices
        moment = until.timestamp()
        rows = _buyer_rows(matrices, cols, moment)
        rows = rows[~np.isin(ids[rows], np.asarray(excluding, dtype=np.int64))]
        theirs = times[rows]
        if len(theirs.data) and theirs.data.max() >= moment:
            theirs.data[theirs.data >= moment] = 0.0
            theirs.eliminate_zeros()
        return sp.csr_matrix(
            (np.ones(len(theirs.data), dtype=np.float32), theirs.indices, theirs.indptr),
            shape=theirs.shape,
        )


def _buyer_rows(matrices: tuple, cols: np.ndarray, until: float) -> np.ndarray:
    """Rows of the customers who bought one of the products in ``cols`` before ``until``."""
    part = matrices[2][:, np.asarray(cols, dtype=np.int64)]
    return np.unique(part.indices[part.data < until])


_log_lock = threading.Lock()
_logs: dict[str, PurchaseLog] = {}


def purchase_log(
    item_ids: np.ndarray, version: object = None, *, max_age: float = PURCHASE_LOG_MAX_AGE_SECONDS
) -> PurchaseLog:
    """This process's :class:`PurchaseLog` over ``item_ids``: read in full if missing,
    older than ``max_age`` seconds or kept for another ``version`` (the live run: a
    model trained since has other products), else brought up to date."""
    with _log_lock:
        log = _logs.get("purchases")
        if log is None or log.version != version or time.monotonic() - log.read_at > max_age:
            log = _logs["purchases"] = PurchaseLog.read(item_ids, version)
        else:
            log.catch_up()
        return log


def clear_purchase_log() -> None:
    with _log_lock:
        _logs.clear()


@dataclass
class InteractionData:
    """Matrices over fixed id orders; ``user_index``/``item_index`` map ids to rows/columns."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    baskets: sp.csr_matrix
    last_purchase_age: sp.csr_matrix
    weights: sp.csr_matrix
    as_of: datetime
    # Days (+ 1) since the customer first bought the product, and each customer's number
    # of orders: the *buy again* reorder model reads how often, not only how lately,
    # a customer buys (``None`` where a matrix was built without them).
    first_purchase_age: sp.csr_matrix | None = None
    orders: np.ndarray | None = None
    user_index: dict[int, int] = field(init=False)
    item_index: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.user_index = {int(u): k for k, u in enumerate(self.user_ids)}
        self.item_index = {int(i): k for k, i in enumerate(self.item_ids)}

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.user_ids), len(self.item_ids)


def build_interactions(
    events: EventRows,
    *,
    as_of: datetime,
    item_ids: np.ndarray | None = None,
    user_ids: np.ndarray | None = None,
    decay_days: float = 180.0,
) -> InteractionData:
    """Matrices of events before ``as_of``, over the given (or observed) ids."""
    events = events.before(as_of)
    if user_ids is None:
        user_ids = np.unique(events.customers)
    if item_ids is None:
        item_ids = np.unique(events.products)
    user_ids = np.asarray(user_ids, dtype=np.int64)
    item_ids = np.asarray(item_ids, dtype=np.int64)
    shape = (len(user_ids), len(item_ids))

    rows = positions(user_ids, events.customers)
    cols = positions(item_ids, events.products)
    known = (rows >= 0) & (cols >= 0)
    rows, cols = rows[known], cols[known]
    kinds, baskets, times = events.kinds[known], events.baskets[known], events.times[known]
    age_days = (as_of.timestamp() - times) / SECONDS_PER_DAY

    kind_weight = np.zeros(len(EventRows.KIND_CODES), dtype=np.float64)
    for kind, weight in EVENT_WEIGHTS.items():
        kind_weight[EventRows.KIND_CODES[kind]] = weight
    decay = np.exp(-age_days / decay_days) if decay_days > 0 else np.ones_like(age_days)
    weights = sp.csr_matrix((kind_weight[kinds] * decay, (rows, cols)), shape=shape)
    weights.eliminate_zeros()

    purchase = kinds == EventRows.KIND_CODES[InteractionKind.PURCHASE]
    p_rows, p_cols, p_baskets, p_age = (
        rows[purchase],
        cols[purchase],
        baskets[purchase],
        age_days[purchase],
    )
    # Distinct (customer, product, basket): one order with two lines of a product is one.
    # Sorted by customer, product and basket: a cell's rows, and a basket's, are adjacent.
    order = np.lexsort((p_age, p_baskets, p_cols, p_rows))
    p_rows, p_cols, p_baskets, p_age = p_rows[order], p_cols[order], p_baskets[order], p_age[order]
    new_cell = np.ones(len(order), dtype=bool)
    new_cell[1:] = (p_rows[1:] != p_rows[:-1]) | (p_cols[1:] != p_cols[:-1])
    new_basket = new_cell.copy()
    new_basket[1:] |= p_baskets[1:] != p_baskets[:-1]
    basket_counts = sp.csr_matrix(
        (np.ones(int(new_basket.sum())), (p_rows[new_basket], p_cols[new_basket])), shape=shape
    )
    basket_counts.sum_duplicates()
    if new_cell.any():
        youngest = np.minimum.reduceat(p_age, np.flatnonzero(new_cell))
        # Store age + 1 so a purchase at as_of is not an implicit zero.
        last_age = sp.csr_matrix(
            (youngest + 1.0, (p_rows[new_cell], p_cols[new_cell])), shape=shape
        )
    else:
        last_age = sp.csr_matrix(shape)
    first_age, orders = _first_purchases(p_rows, p_cols, p_baskets, p_age, shape)
    return InteractionData(
        user_ids=user_ids,
        item_ids=item_ids,
        baskets=basket_counts.tocsr(),
        last_purchase_age=last_age.tocsr(),
        weights=weights,
        as_of=as_of,
        first_purchase_age=first_age,
        orders=orders,
    )


def _first_purchases(
    rows: np.ndarray,
    cols: np.ndarray,
    baskets: np.ndarray,
    ages: np.ndarray,
    shape: tuple[int, int],
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Days (+ 1, as ``last_purchase_age``) since each customer's first purchase of each
    product, and each customer's number of distinct orders."""
    cells, inverse = np.unique(rows * np.int64(shape[1]) + cols, return_inverse=True)
    oldest = np.full(len(cells), -np.inf)
    np.maximum.at(oldest, inverse, ages)
    first_age = sp.csr_matrix(
        (oldest + 1.0, (cells // shape[1], cells % shape[1])), shape=shape
    ).tocsr()
    orders = np.zeros(shape[0], dtype=np.float64)
    if len(rows):
        span = np.int64(baskets.max()) + 1
        pairs = np.unique(rows.astype(np.int64) * span + baskets)
        orders = np.bincount(pairs // span, minlength=shape[0]).astype(np.float64)
    return first_age, orders


def positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in sorted-or-not ``ids``; -1 where absent (vectorised: a dict
    lookup per event in Python costs seconds on a shop's whole log)."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    found = np.searchsorted(sorted_ids, values)
    found = np.clip(found, 0, max(len(sorted_ids) - 1, 0))
    if not len(sorted_ids):
        return np.full(len(values), -1, dtype=np.int64)
    hit = sorted_ids[found] == values
    return np.where(hit, order[found], -1).astype(np.int64)


def window(end: datetime, weeks: int) -> tuple[datetime, datetime]:
    return end - timedelta(weeks=weeks), end
