"""Identity: one shopper, many ids, merged into the customer as soon as we know them.

Ids are namespaced so they can never collide: ``e:`` a guest's email (hashed, so the
log holds no address), ``c:`` a checkout token, ``s:`` a storefront-supplied id.
"""

import hashlib
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from ..models import AnonymousIdentity, ErasedIdentity, Interaction, RecommendationClick

MAX_STOREFRONT_ID = 48


def email_identity(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"e:{digest[:40]}"


def checkout_identity(token: str) -> str:
    return f"c:{token}"[:64]


def storefront_identity(anonymous_id: str) -> str:
    return f"s:{anonymous_id}"


def is_valid_storefront_id(anonymous_id: str) -> bool:
    return (
        0 < len(anonymous_id) <= MAX_STOREFRONT_ID
        and anonymous_id.isascii()
        and all(ch.isalnum() or ch in "-_." for ch in anonymous_id)
    )


def customer_for(anonymous_ids: Iterable[str]) -> int | None:
    """The customer behind any of these ids, if one was merged before."""
    ids = [i for i in anonymous_ids if i]
    if not ids:
        return None
    return (
        AnonymousIdentity.objects.filter(anonymous_id__in=ids)
        .values_list("customer_id", flat=True)
        .first()
    )


def merge_identities(anonymous_ids: Iterable[str], customer_id: int) -> int:
    """Attribute everything recorded under these ids to the customer.

    Returns the number of events that changed hands. Idempotent: a second merge finds
    nothing left to move.
    """
    ids = sorted({i for i in anonymous_ids if i})
    if not ids:
        return 0
    with transaction.atomic():
        for anonymous_id in ids:
            AnonymousIdentity.objects.update_or_create(
                anonymous_id=anonymous_id, defaults={"customer_id": customer_id}
            )
        RecommendationClick.objects.filter(anonymous_id__in=ids, customer_id__isnull=True).update(
            customer_id=customer_id
        )
        return Interaction.objects.filter(anonymous_id__in=ids, customer_id__isnull=True).update(
            customer_id=customer_id
        )


def identities_of(customer_id: int, email: str = "") -> list[str]:
    """Every anonymous id known to belong to the customer (for erasure)."""
    ids = set(
        AnonymousIdentity.objects.filter(customer_id=customer_id).values_list(
            "anonymous_id", flat=True
        )
    )
    if email:
        ids.add(email_identity(email))
    return sorted(ids)


def customer_identity(customer_id: int) -> str:
    return f"u:{customer_id}"


def erased_before(identities: Iterable[str]) -> dict[str, datetime]:
    """When each of these identities was erased, for those that were."""
    ids = [i for i in identities if i]
    if not ids:
        return {}
    return dict(
        ErasedIdentity.objects.filter(identity__in=ids).values_list("identity", "erased_at")
    )


def link_checkout(token: str, anonymous_id: str, customer_id: int | None = None) -> int:
    """Tie a storefront's anonymous id to a checkout (and its customer, if known).

    The checkout's order later merges the id into the customer (see
    ``recording.record_order``); if the checkout already has a customer the merge
    happens now. Returns how many events changed hands.
    """
    from ..models import CartState

    with transaction.atomic():
        state, _ = CartState.objects.select_for_update().get_or_create(token=token)
        if state.anonymous_id != anonymous_id:
            state.anonymous_id = anonymous_id
            state.save(update_fields=["anonymous_id"])
        customer = customer_id or state.customer_id
    return merge_identities([anonymous_id], customer) if customer else 0
