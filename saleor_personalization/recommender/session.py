"""Session-aware serving: the precomputed list bent toward what the shopper does now.

Lists are computed once per training run; a shopper's session moves faster. At request
time this module

1. weighs the **session context** (:func:`context_from_events`): the shopper's latest
   product views, cart adds and removals and purchases, bounded by the last N events
   and the last D hours, read with the rest of their activity in one query
   (:func:`~.activity.read_activity`, on the interaction log's (customer, time) or
   (anonymous id, time) index);
2. **blends** (:func:`blend`) the precomputed list (or the fallback) with the
   neighbour scores of the context products (:mod:`.neighbours`: top-K per product,
   precomputed), and says why a product moved up ("Because you viewed X").

Nothing here scores the catalogue: a request reads one list row, one set of event
rows and the neighbour rows of at most N products. The same :func:`blend` is what
``benchmarks/session.py`` measures.
"""

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import OuterRef, Subquery

from ..models import InteractionKind, ListEntry

# What one event says about the shopper's interest now, relative to a view. A removal
# takes back an add (a product added and removed counts as a view).
CONTEXT_WEIGHTS: dict[str, float] = {
    InteractionKind.VIEW: 1.0,
    InteractionKind.ADD_TO_CART: 2.0,
    InteractionKind.REMOVE_FROM_CART: -1.0,
    InteractionKind.PURCHASE: 1.5,
}
# Each older distinct product counts this much less than the one after it.
RECENCY = 0.85

BECAUSE = {
    InteractionKind.VIEW: "Because you viewed {}",
    InteractionKind.ADD_TO_CART: "Because you added {} to your cart",
    InteractionKind.REMOVE_FROM_CART: "Because you viewed {}",
    InteractionKind.PURCHASE: "Because you bought {}",
}
SESSION_SOURCE = "session"
# Which event on a product its explanation names: the furthest the shopper went with it
# (a product added and then bought was bought, though an add weighs more as interest).
_STAGE = {
    InteractionKind.REMOVE_FROM_CART: 0,
    InteractionKind.VIEW: 1,
    InteractionKind.ADD_TO_CART: 2,
    InteractionKind.PURCHASE: 3,
}


@dataclass(frozen=True)
class SessionSettings:
    """The Dashboard's session settings, as serving and the benchmark use them.

    ``weight`` is the share of the blended score that comes from the session (0 keeps
    the precomputed order); ``max_events`` and ``hours`` bound the context.
    """

    enabled: bool = True
    weight: float = 0.3
    max_events: int = 20
    hours: int = 24

    @classmethod
    def from_config(cls, config) -> "SessionSettings":
        """The Dashboard's settings (a :class:`PersonalizationConfig`)."""
        return cls(
            enabled=config.session_enabled,
            weight=config.session_weight,
            max_events=config.session_events,
            hours=config.session_hours,
        )


# A fallback list (bestsellers, newest) says nothing about the shopper, so when one is
# blended the session leads with this weight (chosen on the validation window by
# benchmarks/session.py), whatever the Dashboard's weight for personal lists.
FALLBACK_WEIGHT = 0.8


@dataclass(frozen=True)
class ContextProduct:
    product_id: int
    weight: float
    kind: str  # the strongest kind of event on it, for the explanation


@dataclass(frozen=True)
class SessionContext:
    """The shopper's recent products, most recent first, with their weights."""

    products: tuple[ContextProduct, ...] = ()
    events: int = 0

    def __bool__(self) -> bool:
        return bool(self.products)

    @property
    def product_ids(self) -> list[int]:
        return [p.product_id for p in self.products]


@dataclass(frozen=True)
class SessionEvent:
    product_id: int
    kind: str
    occurred_at: datetime | None = None


def context_from_events(events: Iterable[SessionEvent]) -> SessionContext:
    """Weigh events (newest first): kind weights summed per product, older products less.

    A product whose adds were all taken back by removals keeps a view's weight; one
    with nothing left (a removal alone) leaves the context.
    """
    totals: dict[int, float] = {}
    kinds: dict[int, str] = {}
    order: list[int] = []
    count = 0
    for event in events:
        count += 1
        product = int(event.product_id)
        if product not in totals:
            totals[product] = 0.0
            order.append(product)
        totals[product] += CONTEXT_WEIGHTS.get(event.kind, 0.0)
        current = kinds.get(product)
        if current is None or _STAGE.get(event.kind, 0) > _STAGE.get(current, 0):
            kinds[product] = event.kind
    products = []
    for position, product in enumerate(order):
        weight = totals[product]
        if weight <= 0:
            continue
        products.append(ContextProduct(product, weight * RECENCY**position, kinds[product]))
    return SessionContext(tuple(products), count)


# Blending ------------------------------------------------------------------------------


def _get(entry, name: str, default=None):
    if type(entry) is ListEntry:  # the usual case, without an abstract-class check
        return getattr(entry, name, default)
    if isinstance(entry, Mapping):
        if name == "is_new":
            return entry.get("new", entry.get("is_new", default))
        return entry.get(name, default)
    return getattr(entry, name, default)


@dataclass
class _Lift:
    total: float = 0.0
    source: int = 0
    strongest: float = 0.0


def session_scores(
    context: SessionContext, neighbours: Mapping[int, Sequence[tuple[int, float]]]
) -> dict[int, _Lift]:
    """Each neighbour's summed weight over the context, and the product that lifted it most."""
    lifts: dict[int, _Lift] = {}
    for item in context.products:
        for product, weight in neighbours.get(item.product_id, ()):
            contribution = item.weight * float(weight)
            if contribution <= 0:
                continue
            lift = lifts.setdefault(int(product), _Lift())
            lift.total += contribution
            if contribution > lift.strongest:
                lift.strongest, lift.source = contribution, item.product_id
    return lifts


def rank_weights(n: int) -> np.ndarray:
    """A base list's order as scores: 1 at the top, falling like DCG's discount."""
    return 1.0 / np.log2(np.arange(n) + 2.0)


def blend(
    base: Sequence,
    context: SessionContext,
    neighbours: Mapping[int, Sequence[tuple[int, float]]],
    *,
    weight: float,
    names: Mapping[int, str] | None = None,
    source: str = "",
    exclude_context: bool = True,
    limit: int | None = None,
) -> list[ListEntry]:
    """The base list (precomputed or fallback, in rank order) blended with the session.

    ``score = (1 - weight) * rank score in the base list + weight * session score``,
    the session score being the neighbours' summed weight over the context products,
    divided by its maximum so both parts run from 0 to 1. Products the session lifted
    more than their base rank did are explained by the context product that
    contributed most ("Because you viewed X"); others keep their base reason. Context
    products themselves are left out (the shopper has them in front of them; a
    "recently viewed" list shows them).

    ``base`` entries are list entries or their JSON (``product_id``, ``score``,
    ``reason``, ``source``, ``new``). An empty context returns the base unchanged.
    ``limit``: return only the best this many (a request needs a page and some spare
    for the rules, not every neighbour of the context).
    """
    names = names or {}
    in_context = set(context.product_ids) if exclude_context else set()
    base_entries = [e for e in base if int(_get(e, "product_id")) not in in_context]
    if not context or weight <= 0:
        return [_as_blended(e, source) for e in base_entries]
    lifts = session_scores(context, neighbours)
    for product in in_context:
        lifts.pop(product, None)
    top = max((lift.total for lift in lifts.values()), default=0.0)
    if top <= 0:
        return [_as_blended(e, source) for e in base_entries]
    base_part = 1.0 - weight
    kinds = {p.product_id: p.kind for p in context.products}
    ranked = rank_weights(len(base_entries))
    from_base: dict[int, tuple[float, object]] = {}
    for position, entry in enumerate(base_entries):
        product = int(_get(entry, "product_id"))
        if product not in from_base:
            from_base[product] = (base_part * float(ranked[position]), entry)
    totals = {product: part for product, (part, _) in from_base.items()}
    scale = weight / top
    for product, lift in lifts.items():
        totals[product] = totals.get(product, 0.0) + scale * lift.total
    # Only the products shown are built and explained (the sort is stable: ties keep
    # the base order, then the session's).
    chosen = heapq.nlargest(limit or len(totals), totals, key=totals.__getitem__)
    out = []
    for product in chosen:
        lift = lifts.get(product)
        part, entry = from_base.get(product, (0.0, None))
        if entry is None:
            blended = ListEntry(product_id=product, source=SESSION_SOURCE)
        else:
            blended = _as_blended(entry, source)
        if lift is not None and scale * lift.total > part:
            blended = _explained(blended, lift, kinds, names)
        out.append(
            ListEntry(
                product, round(totals[product], 5), blended.reason, blended.source, blended.is_new
            )
        )
    return out


def _as_blended(entry, source: str) -> ListEntry:
    return ListEntry(
        product_id=int(_get(entry, "product_id")),
        score=float(_get(entry, "score", 0.0) or 0.0),
        reason=str(_get(entry, "reason", "") or ""),
        source=str(_get(entry, "source", "") or source),
        is_new=bool(_get(entry, "is_new", False)),
    )


def _explained(
    entry: ListEntry, lift: _Lift, kinds: Mapping[int, str], names: Mapping[int, str]
) -> ListEntry:
    template = BECAUSE.get(kinds.get(lift.source, InteractionKind.VIEW), BECAUSE["view"])
    reason = template.format(names.get(lift.source) or "a product you looked at")
    return ListEntry(entry.product_id, entry.score, reason, SESSION_SOURCE, entry.is_new)


def session_list(
    base: Sequence,
    context: SessionContext,
    neighbours: Mapping[int, Sequence[tuple[int, float]]],
    settings: SessionSettings,
    *,
    personal: bool,
    names: Mapping[int, str] | None = None,
    source: str = "",
    fallback_weight: float = FALLBACK_WEIGHT,
    limit: int | None = None,
    exclude_context: bool = True,
    within: set[int] | None = None,
) -> list[ListEntry]:
    """What serving shows before its rules: ``base`` blended with the session.

    ``personal``: ``base`` is about this shopper (their precomputed list), blended with
    the Dashboard's session weight; otherwise ``base`` is a fallback and the session
    leads (``fallback_weight``). ``within``: only these products may be lifted (a list
    reordered, not extended: a storefront's own page, a customer's *buy again*). With
    the session switched off the base is returned as it is, context products included.
    The resolvers and ``benchmarks/session.py`` call this same function.
    """
    if not settings.enabled:
        return [_as_blended(e, source) for e in base]
    if within is not None:  # only the context's rows matter (a benchmark passes them all)
        neighbours = {
            product: [(p, w) for p, w in neighbours[product] if p in within]
            for product in context.product_ids
            if product in neighbours
        }
    weight = settings.weight if personal else fallback_weight
    return blend(
        base,
        context,
        neighbours,
        weight=weight,
        names=names,
        source=source,
        limit=limit,
        exclude_context=exclude_context,
    )


class SessionView:
    """One answer's view of the shopper's session, used by every list it blends.

    The context comes with the rest of the shopper's activity (one query,
    :func:`~.activity.read_activity`); the neighbour rows and names are read only when
    a list is blended and the context has products: a shopper without a session costs
    no query here, and with the session switched off none.
    """

    def __init__(self, settings: SessionSettings, context: SessionContext):
        self.settings, self.context = settings, context
        self._neighbours: dict[int, list[tuple[int, float]]] | None = None
        self._names: dict[int, str] = {}

    def _load(self) -> None:
        """The context products' neighbour rows with their names, in one query: only a
        product with neighbours lifts anything, so only such a product is named in an
        explanation (one round trip to the database fewer per answer)."""
        if self._neighbours is not None:
            return
        from ..models import ItemNeighbours, ItemProfile

        self._neighbours, self._names = {}, {}
        ids = self.context.product_ids
        if not ids:
            return
        name = ItemProfile.objects.filter(product_id=OuterRef("product_id")).values("name")[:1]
        rows = (
            ItemNeighbours.objects.filter(product_id__in=ids)
            .annotate(name=Subquery(name))
            .values_list("product_id", "neighbours", "name")
        )
        for product, items, product_name in rows:
            self._neighbours[int(product)] = [(int(q), float(w)) for q, w in items or []]
            if product_name:
                self._names[int(product)] = product_name

    def follow(
        self,
        base: Sequence,
        *,
        personal: bool,
        source: str = "",
        limit: int | None = None,
        within: set[int] | None = None,
        exclude_context: bool = True,
    ) -> list[ListEntry]:
        """``base`` blended with the session (:func:`session_list`).

        ``within``: only these products may be lifted in (a storefront's own list that
        is reranked, not extended); ``exclude_context``: leave out what the shopper is
        looking at (off for a reranked list, which is the storefront's to show).
        """
        if not self.settings.enabled or not self.context:
            return [_as_blended(e, source) for e in base]
        self._load()
        return session_list(
            base,
            self.context,
            self._neighbours or {},
            self.settings,
            personal=personal,
            names=self._names,
            source=source,
            limit=limit,
            exclude_context=exclude_context,
            within=within,
        )
