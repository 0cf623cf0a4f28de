"""Record carts, orders and storefront product views into the interaction log.

A checkout hook reports the whole cart, not what changed; the recorder compares it
with the last seen cart (:class:`~saleor_personalization.models.CartState`) and writes
one add or remove event per changed line. Every event carries a deterministic
``source_key``, so a retried task or a duplicated hook records nothing twice; a view
the storefront reports (``trackEvent``) is keyed by its client ``eventId`` alike.
"""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..features.customers import refresh_customer_summaries
from ..models import CartState, CustomerProfile, Interaction, InteractionKind
from .identity import (
    checkout_identity,
    customer_for,
    customer_identity,
    email_identity,
    erased_before,
    legacy_email_identity,
    merge_identities,
    storefront_identity,
)
from .types import CartSnapshot, LineSnapshot, OrderSnapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordResult:
    created: int
    merged: int = 0


def _cart_identities(token: str, anonymous_id: str) -> list[str]:
    """The ids a checkout's activity may be known by; never its typed email."""
    return [checkout_identity(token), *([anonymous_id] if anonymous_id else [])]


def _tombstone_keys(customer_id: int | None, email: str) -> list[str]:
    keys = []
    if customer_id:
        keys.append(customer_identity(customer_id))
    if email:
        keys.extend((email_identity(email), legacy_email_identity(email)))
    return keys


def _is_erased(keys: list[str], occurred_at, tombstones: dict) -> bool:
    """Activity from before an identity's erasure is never recorded again."""
    return any(tombstones.get(key) and occurred_at <= tombstones[key] for key in keys)


def _insert(events: list[Interaction]) -> int:
    if not events:
        return 0
    keys = [event.source_key for event in events]
    existing = set(
        Interaction.objects.filter(source_key__in=keys).values_list("source_key", flat=True)
    )
    Interaction.objects.bulk_create(events, ignore_conflicts=True)
    return len(set(keys) - existing)


def record_cart(snapshot: CartSnapshot) -> RecordResult:
    """Turn a cart snapshot into add/remove/checkout-started events.

    The cart belongs to an account only if Saleor says so (``snapshot.customer_id`` is
    the checkout's ``user``): then its checkout and storefront ids are merged into the
    account, which is how ``checkoutCustomerAttach`` brings a guest's browsing along.
    ``CartState.customer_id`` follows the checkout's user and nothing else, so the
    email and offer code that read it never act for an account on a typed address.
    """
    with transaction.atomic():
        state, _ = CartState.objects.select_for_update().get_or_create(
            token=snapshot.token, defaults={"channel": snapshot.channel}
        )
        if state.completed_at is not None:
            return RecordResult(created=0)
        if state.snapshot_at is not None and snapshot.occurred_at < state.snapshot_at:
            # An older snapshot delivered late (retries can reorder tasks): the newer
            # one already describes the cart.
            return RecordResult(created=0)

        storefront_id = snapshot.anonymous_id or state.anonymous_id
        identities = _cart_identities(snapshot.token, storefront_id)
        owner = snapshot.customer_id
        customer_id = owner or customer_for(identities)
        keys = _tombstone_keys(customer_id, snapshot.email)
        if _is_erased(keys, snapshot.occurred_at, erased_before(keys)):
            return RecordResult(created=0)
        anonymous_id = "" if customer_id else (storefront_id or identities[0])

        previous: dict[str, list[int]] = state.lines or {}
        current = _merge_lines(snapshot.lines)
        changes = _diff(previous, current)
        started = bool(snapshot.email) and not state.email
        version = state.version + 1 if (changes or started) else state.version

        events = [
            Interaction(
                customer_id=customer_id,
                anonymous_id=anonymous_id,
                product_id=product_id,
                variant_id=variant_id,
                channel=snapshot.channel,
                kind=kind,
                quantity=quantity,
                basket_ref=snapshot.token[:64],
                occurred_at=snapshot.occurred_at,
                source_key=f"cart:{snapshot.token}:{version}:{key}:{kind}",
            )
            for key, product_id, variant_id, kind, quantity in changes
        ]
        if started and current:
            events.extend(
                Interaction(
                    customer_id=customer_id,
                    anonymous_id=anonymous_id,
                    product_id=product_id,
                    variant_id=_variant_of(key),
                    channel=snapshot.channel,
                    kind=InteractionKind.CHECKOUT_STARTED,
                    quantity=quantity,
                    basket_ref=snapshot.token[:64],
                    occurred_at=snapshot.occurred_at,
                    source_key=f"cart:{snapshot.token}:{version}:{key}:checkout_started",
                )
                for key, (product_id, quantity) in current.items()
            )
        created = _insert(events)

        state.channel = snapshot.channel or state.channel
        state.customer_id = owner
        state.anonymous_id = storefront_id
        # The address is kept while the checkout is open, for its reminder emails, and
        # cleared when it completes or the reminder window closes.
        state.email = snapshot.email or state.email
        state.language_code = snapshot.language_code or state.language_code
        state.lines = current
        state.version = version
        state.snapshot_at = snapshot.occurred_at
        if changes or started or state.last_change_at is None:
            state.last_change_at = snapshot.occurred_at
        state.save()

        merged = merge_identities(identities, owner) if owner else 0
    return RecordResult(created=created, merged=merged)


# Storefront events (trackEvent) ----------------------------------------------------


@dataclass(frozen=True)
class TrackedShopper:
    """Who a storefront event belongs to: a customer, or a raw storefront anonymous id."""

    customer_id: int | None = None
    anonymous_id: str = ""

    @property
    def identity(self) -> str:
        return storefront_identity(self.anonymous_id) if self.anonymous_id else ""


def event_key(prefix: str, shopper: TrackedShopper, event_id: str) -> str:
    """The ``source_key`` of a storefront event: a retried ``event_id`` maps to the same row."""
    who = f"u{shopper.customer_id}" if shopper.customer_id else shopper.identity
    return f"{prefix}:{who}:{event_id or uuid.uuid4().hex}"[:191]


def record_view(
    shopper: TrackedShopper,
    product_id: int,
    channel: str,
    *,
    event_id: str = "",
    occurred_at: datetime | None = None,
) -> bool:
    """Write one product view; ``event_id`` makes a retried call count once.

    Atomic without a lock: ``source_key`` is unique, so of two concurrent calls with
    one ``event_id`` exactly one inserts (and returns True) and the other reads it.
    """
    _, created = Interaction.objects.get_or_create(
        source_key=event_key("view", shopper, event_id),
        defaults={
            "customer_id": shopper.customer_id,
            "anonymous_id": "" if shopper.customer_id else shopper.identity,
            "product_id": product_id,
            "channel": channel,
            "kind": InteractionKind.VIEW,
            "occurred_at": occurred_at or timezone.now(),
        },
    )
    return created


def _merge_lines(lines: tuple[LineSnapshot, ...]) -> dict[str, list[int]]:
    merged: dict[str, list[int]] = {}
    for line in lines:
        if line.quantity <= 0:
            continue
        entry = merged.setdefault(line.key, [line.product_id, 0])
        entry[1] += line.quantity
    return merged


def _variant_of(key: str) -> int | None:
    return int(key[1:]) if key.startswith("v") else None


def _diff(
    previous: dict[str, list[int]], current: dict[str, list[int]]
) -> list[tuple[str, int, int | None, str, int]]:
    changes = []
    for key in sorted(set(previous) | set(current)):
        before_entry, after_entry = previous.get(key), current.get(key)
        product_id = (after_entry or before_entry)[0]
        before = before_entry[1] if before_entry else 0
        after = after_entry[1] if after_entry else 0
        if after == before:
            continue
        kind = InteractionKind.ADD_TO_CART if after > before else InteractionKind.REMOVE_FROM_CART
        changes.append((key, product_id, _variant_of(key), kind, abs(after - before)))
    return changes


def _purchase_events(
    snapshot: OrderSnapshot, customer_id: int | None, anonymous_id: str
) -> list[Interaction]:
    """One purchase per order line, keyed by order and line so replays add nothing."""
    return [
        Interaction(
            customer_id=customer_id,
            anonymous_id=anonymous_id,
            product_id=line.product_id,
            variant_id=line.variant_id,
            channel=snapshot.channel,
            kind=InteractionKind.PURCHASE,
            quantity=line.quantity,
            unit_price=line.unit_price,
            currency=line.currency or snapshot.currency,
            basket_ref=(snapshot.number or snapshot.order_id)[:64],
            occurred_at=snapshot.occurred_at,
            source_key=f"order:{snapshot.order_id}:{line.line_ref or line.key}",
        )
        for line in snapshot.lines
        if line.quantity > 0
    ]


def _guest_key(snapshot: OrderSnapshot) -> str:
    """A guest order's anonymous id: its address's keyed hash, else the order itself."""
    return email_identity(snapshot.email) if snapshot.email else f"o:{snapshot.order_id}"


def record_order(snapshot: OrderSnapshot) -> RecordResult:
    """Record an order's lines as purchases and close the checkout it came from.

    The purchases are the account's only if Saleor holds the order under it
    (``order.user_id``); a guest order with no account stays a guest's whatever its
    email, until Saleor links it (:func:`claim_orders`). The checkout's anonymous ids
    join the account only if the checkout itself was the account's: Saleor also gives
    a guest checkout to the account whose address was typed into it, at completion,
    and that proves nothing about who browsed under the checkout's ids.
    """
    with transaction.atomic():
        state = None
        if snapshot.checkout_token:
            state = (
                CartState.objects.select_for_update().filter(token=snapshot.checkout_token).first()
            )
        customer_id = snapshot.customer_id
        identities = []
        if state is not None and customer_id and state.customer_id == customer_id:
            identities = _cart_identities(state.token, state.anonymous_id)
        keys = _tombstone_keys(customer_id, snapshot.email)
        if _is_erased(keys, snapshot.occurred_at, erased_before(keys)):
            return RecordResult(created=0)
        anonymous_id = "" if customer_id else _guest_key(snapshot)

        events = _purchase_events(snapshot, customer_id, anonymous_id)
        created = _insert(events)

        if state is not None and state.completed_at is None:
            state.completed_at = snapshot.occurred_at
            state.order_ref = (snapshot.number or snapshot.order_id)[:64]
            # No reminder follows a completed checkout: its address is not kept.
            state.email = ""
            state.save(update_fields=["completed_at", "order_ref", "email"])

        merged = 0
        if customer_id:
            merged = merge_identities(identities, customer_id)
            CustomerProfile.objects.get_or_create(customer_id=customer_id)
            refresh_customer_summaries([customer_id])
    return RecordResult(created=created, merged=merged)


def record_orders_bulk(snapshots: list[OrderSnapshot]) -> int:
    """Record many historical orders at once (backfill, reconcile).

    Unlike :func:`record_order` it does not touch carts: historical orders' checkouts
    are long gone. An order Saleor has since linked to an account (recorded earlier as
    a guest's) is claimed for it. Customer summaries are refreshed once for the batch.
    """
    events = []
    customers: set[int] = set()
    tombstones = erased_before(
        key for s in snapshots for key in _tombstone_keys(s.customer_id, s.email)
    )
    for snapshot in snapshots:
        keys = _tombstone_keys(snapshot.customer_id, snapshot.email)
        if tombstones and _is_erased(keys, snapshot.occurred_at, tombstones):
            continue
        customer_id = snapshot.customer_id
        anonymous_id = ""
        if customer_id:
            customers.add(customer_id)
        else:
            anonymous_id = _guest_key(snapshot)
        events.extend(_purchase_events(snapshot, customer_id, anonymous_id))
    with transaction.atomic():
        created = _insert(events)
        _ensure_profiles(customers)
        claim_orders(_recorded_as_guest(snapshots, events), refresh=False)
        if customers:
            refresh_customer_summaries(sorted(customers))
    return created


def _recorded_as_guest(
    snapshots: list[OrderSnapshot], events: list[Interaction]
) -> list["OrderClaim"]:
    """Orders now under an account whose purchases an earlier run recorded as a guest's."""
    keys = [event.source_key for event in events if event.customer_id]
    if not keys:
        return []
    guest_orders = {
        key.split(":", 2)[1]
        for key in Interaction.objects.filter(
            source_key__in=keys, customer_id__isnull=True
        ).values_list("source_key", flat=True)
    }
    return [
        OrderClaim(s.order_id, s.customer_id, s.checkout_token)
        for s in snapshots
        if s.customer_id and s.order_id in guest_orders
    ]


@dataclass(frozen=True)
class OrderClaim:
    """An order Saleor holds under an account (``order.user_id``): proof it is theirs."""

    order_id: str
    customer_id: int
    checkout_token: str = ""


_CLAIM_CHUNK = 200


def claim_orders(claims: list[OrderClaim], *, refresh: bool = True) -> int:
    """Give each account the purchases of orders Saleor has linked to it.

    Saleor links a guest's past orders to an account once the account proves the
    address (``confirmAccount``, ``setPassword``, ``confirmEmailChange``, staff
    ``customerUpdate``); only such orders move, one by one, with their checkout's
    anonymous ids, and the accounts' order counts are recomputed. Returns how many
    purchase events changed hands.
    """
    by_order = {claim.order_id: claim for claim in claims}
    if not by_order:
        return 0
    moved = 0
    claimed: list[OrderClaim] = []
    order_ids = sorted(by_order)
    with transaction.atomic():
        for start in range(0, len(order_ids), _CLAIM_CHUNK):
            chunk = order_ids[start : start + _CLAIM_CHUNK]
            prefixes = Q()
            for order_id in chunk:
                prefixes |= Q(source_key__startswith=f"order:{order_id}:")
            guest = Interaction.objects.filter(
                prefixes, kind=InteractionKind.PURCHASE, customer_id__isnull=True
            )
            rows: dict[int, list[int]] = {}
            found: set[str] = set()
            for pk, source_key in guest.values_list("pk", "source_key"):
                order_id = source_key.split(":", 2)[1]
                rows.setdefault(by_order[order_id].customer_id, []).append(pk)
                found.add(order_id)
            for customer_id, pks in rows.items():
                moved += Interaction.objects.filter(pk__in=pks, customer_id__isnull=True).update(
                    customer_id=customer_id
                )
            claimed.extend(by_order[order_id] for order_id in sorted(found))
        if not claimed:
            return 0
        customers = {claim.customer_id for claim in claimed}
        tokens = {c.checkout_token: c.customer_id for c in claimed if c.checkout_token}
        for token, anonymous_id in CartState.objects.filter(token__in=list(tokens)).values_list(
            "token", "anonymous_id"
        ):
            merge_identities(_cart_identities(token, anonymous_id), tokens[token])
        _ensure_profiles(customers)
        if refresh:
            refresh_customer_summaries(sorted(customers))
    return moved


def _ensure_profiles(customers: set[int]) -> None:
    if not customers:
        return
    existing = set(
        CustomerProfile.objects.filter(customer_id__in=customers).values_list(
            "customer_id", flat=True
        )
    )
    CustomerProfile.objects.bulk_create(
        [CustomerProfile(customer_id=c) for c in sorted(customers - existing)],
        ignore_conflicts=True,
    )


def forget_cart_addresses(*, idle_before: datetime, closed_tokens: Iterable[str] = ()) -> int:
    """Clear the address of carts whose reminder window is over or that are gone.

    A checkout's address is kept for its reminder emails only: once it has been idle
    longer than the last reminder can wait, or Saleor no longer has the checkout
    (``closed_tokens``), the plugin forgets it. Returns how many carts were cleared.
    """
    stale = Q(last_change_at__lt=idle_before) | Q(last_change_at__isnull=True)
    closed = list(closed_tokens)
    if closed:
        stale |= Q(token__in=closed)
    return CartState.objects.exclude(email="").filter(stale).update(email="")
