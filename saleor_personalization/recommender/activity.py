"""What a shopper has in their cart, has bought and is doing now: one query per answer.

Every served list needs three facts about the shopper before it can be ruled and
blended: the products in their open carts (left out), what they bought (left out of
discovery; recent purchases left out of every list) and their session's latest events
(the context the list follows). Read one by one they were four or five round trips
per request, a large part of the plugin's time in a storefront page; here they are
one statement of three ``UNION ALL`` parts, each on its own index:

- purchases, one row per product with its number of orders and latest time, on the
  interaction log's (customer, time) or (anonymous id, time) index;
- the session's latest events (last N events of the last D hours) on the same index;
- the product ids in the latest open carts, from the cart mirror's JSON lines.

A visitor's purchases also include the lines of their completed checkouts: their orders
are recorded under the guest's address, not under the storefront's id.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import CartState, Interaction, InteractionKind
from .session import (
    CONTEXT_WEIGHTS,
    SessionContext,
    SessionEvent,
    SessionSettings,
    context_from_events,
)

# Open carts read for the cart rule: the latest few (a shopper may have one per
# channel or device).
RECENT_CARTS = 3
# A visitor's completed checkouts read as their purchases: the latest this many.
COMPLETED_CARTS = 20


@dataclass(frozen=True)
class Purchase:
    """One product the shopper bought: in how many orders, and when last."""

    orders: int
    last_at: datetime


@dataclass(frozen=True)
class ShopperActivity:
    """The shopper's carts, purchases and session events as of one answer."""

    cart: frozenset[int] = frozenset()
    purchases: Mapping[int, Purchase] = field(default_factory=dict)
    events: tuple[SessionEvent, ...] = ()  # newest first

    def bought(self, days: int | None = None, now: datetime | None = None) -> set[int]:
        """What the shopper bought (in the last ``days`` days; ever, with ``None``)."""
        if days is None:
            return set(self.purchases)
        since = (now or timezone.now()) - timedelta(days=days)
        return {p for p, purchase in self.purchases.items() if purchase.last_at >= since}

    def session(self) -> SessionContext:
        return context_from_events(self.events)


# The cart mirror's lines are ``{line key: [product id, quantity]}``: how each database
# lists them as rows (``line``) and reads a line's product id. PostgreSQL in a shop; the
# standalone demo's SQLite too.
_JSON_LINES = {
    "postgresql": ("jsonb_each(carts.lines) AS line", "(line.value ->> 0)::bigint"),
    "sqlite": (
        "json_each(carts.lines) AS line",
        "CAST(json_extract(line.value, '$[0]') AS INTEGER)",
    ),
}


def _as_datetime(value) -> datetime | None:
    """A raw row's time: SQLite's driver hands back text (naive UTC under USE_TZ)."""
    if not isinstance(value, str):
        return value
    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _who(customer_id: int | None, anonymous_id: str, *, either: bool) -> tuple[str, list]:
    """SQL condition for the shopper's rows: a customer's by id (and, with ``either``,
    also what they did under their anonymous id), a visitor's by anonymous id."""
    if customer_id and anonymous_id and either:
        return "(customer_id = %s OR anonymous_id = %s)", [customer_id, anonymous_id]
    if customer_id:
        return "customer_id = %s", [customer_id]
    return "anonymous_id = %s", [anonymous_id]


def read_activity(
    customer_id: int | None,
    anonymous_id: str = "",
    *,
    cart: bool = True,
    purchases: bool = True,
    session: SessionSettings | None = None,
    now: datetime | None = None,
) -> ShopperActivity:
    """The parts asked for, in one round trip; nothing is read for nobody.

    ``session``: the Dashboard's session settings (no session part when it is off).
    A signed-in customer's session includes what they did under their anonymous id
    (events recorded before the storefront knew who they were); their purchases and
    carts are their account's.
    """
    if not (customer_id or anonymous_id):
        return ShopperActivity()
    parts: list[str] = []
    params: list = []
    events_table, carts_table = Interaction._meta.db_table, CartState._meta.db_table
    each, product = _JSON_LINES.get(connection.vendor, _JSON_LINES["postgresql"])
    if purchases:
        who, args = _who(customer_id, anonymous_id, either=False)
        parts.append(
            "SELECT 'p', product_id, MAX(occurred_at), '', COUNT(DISTINCT basket_ref), 0"
            f" FROM {events_table} WHERE {who} AND kind = %s GROUP BY product_id"
        )
        params += [*args, InteractionKind.PURCHASE]
        if not customer_id:
            # A visitor's orders are recorded under the guest's address (or the account
            # Saleor gives them to), never under the storefront's id: what they bought
            # is what their completed checkouts held.
            parts.append(
                f"SELECT 'p', {product}, MAX(carts.completed_at), '', COUNT(*), 0"
                f" FROM (SELECT lines, completed_at FROM {carts_table}"
                " WHERE anonymous_id = %s AND completed_at IS NOT NULL"
                f" ORDER BY completed_at DESC LIMIT %s) AS carts, {each}"
                f" GROUP BY {product}"
            )
            params += [anonymous_id, COMPLETED_CARTS]
    if session is not None and session.enabled and session.max_events > 0:
        who, args = _who(customer_id, anonymous_id, either=True)
        kinds = list(CONTEXT_WEIGHTS)
        since = (now or timezone.now()) - timedelta(hours=session.hours)
        parts.append(
            "SELECT * FROM (SELECT 's', product_id, occurred_at, kind, 0, id"
            f" FROM {events_table} WHERE {who} AND occurred_at >= %s"
            f" AND kind IN ({', '.join(['%s'] * len(kinds))})"
            " ORDER BY occurred_at DESC, id DESC LIMIT %s) AS session"
        )
        params += [*args, since, *kinds, session.max_events]
    if cart:
        who, args = _who(customer_id, anonymous_id, either=False)
        parts.append(
            f"SELECT 'c', {product}, NULL, '', 0, 0"
            f" FROM (SELECT lines FROM {carts_table}"
            f" WHERE {who} AND completed_at IS NULL"
            f" ORDER BY last_change_at DESC NULLS LAST LIMIT %s) AS carts, {each}"
        )
        params += [*args, RECENT_CARTS]
    if not parts:
        return ShopperActivity()
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    carts: set[int] = set()
    bought: dict[int, Purchase] = {}
    events: list[tuple[datetime, int, SessionEvent]] = []
    for part, product, at, kind, orders, row_id in rows:
        at = _as_datetime(at)
        if part == "p":
            earlier = bought.get(int(product))
            if earlier is not None:
                orders, at = orders + earlier.orders, max(at, earlier.last_at)
            bought[int(product)] = Purchase(int(orders), at)
        elif part == "s":
            events.append((at, row_id, SessionEvent(int(product), kind, at)))
        elif product is not None:
            carts.add(int(product))
    events.sort(key=lambda e: (e[0], e[1]), reverse=True)
    return ShopperActivity(frozenset(carts), bought, tuple(e for _, _, e in events))


def read_session(
    *,
    customer_id: int | None,
    anonymous_id: str = "",
    settings: SessionSettings,
    now: datetime | None = None,
) -> SessionContext:
    """The shopper's session context alone (the session part of :func:`read_activity`)."""
    activity = read_activity(
        customer_id, anonymous_id, cart=False, purchases=False, session=settings, now=now
    )
    return activity.session()
