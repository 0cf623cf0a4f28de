"""The interaction matrices every model component learns from.

Rows are customers, columns products. Three views of the same log:

- ``baskets``: distinct baskets (orders) in which the customer bought the product;
- ``last_purchase_age``: days from the product's last purchase to ``as_of``;
- ``weights``: every event kind weighted (a purchase counts more than a view) and
  decayed with age, for LightFM's sample weights.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp
from django.db.models import Q

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
        customers, products, kinds, baskets, times = [], [], [], [], []
        basket_codes: dict[str, int] = {}
        for customer, product, kind, basket, when in rows:
            customers.append(customer)
            products.append(product)
            kinds.append(cls.KIND_CODES[kind])
            baskets.append(basket_codes.setdefault(basket, len(basket_codes)))
            times.append(when.timestamp())
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
        """What personal lists of these customers need: their events, everyone's purchases.

        A list depends on its customer's own history and on which products some
        customer bought together (the links behind "Because you bought X"); other
        customers' views and carts play no part. One query, so basket codes agree.
        """
        events = Interaction.objects.filter(
            customer_id__isnull=False, occurred_at__lt=until
        ).filter(Q(customer_id__in=list(customer_ids)) | Q(kind=InteractionKind.PURCHASE))
        return cls.from_tuples(
            events.order_by()
            .values_list("customer_id", "product_id", "kind", "basket_ref", "occurred_at")
            .iterator(chunk_size=20_000)
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
        from datetime import UTC

        return datetime.fromtimestamp(float(self.times.max()), tz=UTC)

    @property
    def first_time(self) -> datetime | None:
        if not len(self):
            return None
        from datetime import UTC

        return datetime.fromtimestamp(float(self.times.min()), tz=UTC)


@dataclass
class InteractionData:
    """Matrices over fixed id orders; ``user_index``/``item_index`` map ids to rows/columns."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    baskets: sp.csr_matrix
    last_purchase_age: sp.csr_matrix
    weights: sp.csr_matrix
    as_of: datetime
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

    rows = _positions(user_ids, events.customers)
    cols = _positions(item_ids, events.products)
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
    key = np.stack([p_rows, p_cols, p_baskets], axis=1)
    unique_keys, first = np.unique(key, axis=0, return_index=True)
    basket_counts = sp.csr_matrix(
        (np.ones(len(unique_keys)), (unique_keys[:, 0], unique_keys[:, 1])), shape=shape
    )
    basket_counts.sum_duplicates()
    # Youngest purchase per cell: sort by age descending so the last write wins.
    order = np.argsort(-p_age, kind="stable")
    youngest = {}
    for r, c, a in zip(p_rows[order], p_cols[order], p_age[order], strict=True):
        youngest[(r, c)] = a
    if youngest:
        cells = np.array(list(youngest.keys()))
        ages = np.fromiter(youngest.values(), dtype=np.float64, count=len(youngest))
        # Store age + 1 so a purchase at as_of is not an implicit zero.
        last_age = sp.csr_matrix((ages + 1.0, (cells[:, 0], cells[:, 1])), shape=shape)
    else:
        last_age = sp.csr_matrix(shape)
    del first
    return InteractionData(
        user_ids=user_ids,
        item_ids=item_ids,
        baskets=basket_counts.tocsr(),
        last_purchase_age=last_age.tocsr(),
        weights=weights,
        as_of=as_of,
    )


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in sorted-or-not ``ids``; -1 where absent."""
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
