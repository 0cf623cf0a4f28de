"""Identity: one shopper, many ids, merged into a customer only on proof.

Ids are namespaced so they can never collide: ``e:`` a guest's email (a keyed hash,
so the log holds no address), ``c:`` a checkout token, ``s:`` a storefront-supplied
id, ``u:`` a customer (tombstones only).

Proof that activity belongs to an account is an authenticated request (Saleor sets a
checkout's ``user`` from the token, or on ``checkoutCustomerAttach``) or an order
Saleor links to that account (``order.user_id``). A typed email is not proof: anyone
can type anyone's address into a guest checkout, so an ``e:`` id is never merged into
a customer. Guest orders join an account order by order, when Saleor links them.
"""

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac

from ..models import AnonymousIdentity, ErasedIdentity, Interaction, RecommendationClick

logger = logging.getLogger(__name__)

MAX_STOREFRONT_ID = 64
EMAIL_PREFIX = "e:"
_DIGEST_SALT = "saleor_personalization.address"


def address_digest(email: str) -> str:
    """A keyed hash of an address (HMAC-SHA256 with ``SECRET_KEY``), or "" for none.

    Keyed, so a leaked table cannot be reversed by hashing a list of known addresses;
    stable for one ``SECRET_KEY``, so the same address always matches itself.
    """
    normalised = (email or "").strip().lower()
    if not normalised:
        return ""
    return salted_hmac(
        _DIGEST_SALT, normalised, secret=settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def same_address(digest: str, email: str) -> bool:
    """Whether ``email`` is the address ``digest`` was made from (constant time)."""
    return bool(digest) and hmac.compare_digest(digest, address_digest(email))


def email_identity(email: str) -> str:
    return identity_of_digest(address_digest(email))


def identity_of_digest(digest: str) -> str:
    """The ``e:`` id of an address known only by its :func:`address_digest`."""
    return f"{EMAIL_PREFIX}{digest[:40]}" if digest else ""


def legacy_email_identity(email: str) -> str:
    """The unkeyed ``e:`` id of releases before 0002 (tombstones written then)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"{EMAIL_PREFIX}{digest[:40]}"


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


def _mergeable(anonymous_ids: Iterable[str]) -> list[str]:
    """The ids that may stand for a customer: never a typed email."""
    return sorted({i for i in anonymous_ids if i and not i.startswith(EMAIL_PREFIX)})


def customer_for(anonymous_ids: Iterable[str]) -> int | None:
    """The customer behind any of these ids, if one was merged before on proof."""
    ids = _mergeable(anonymous_ids)
    if not ids:
        return None
    return (
        AnonymousIdentity.objects.filter(anonymous_id__in=ids)
        .values_list("customer_id", flat=True)
        .first()
    )


def merge_identities(anonymous_ids: Iterable[str], customer_id: int) -> int:
    """Attribute everything recorded under these ids to the customer.

    Call only with proof that the ids are the customer's (see the module docstring).
    Email ids are skipped whatever the caller passes. An id already merged into
    another customer stays theirs: the first proof wins, so a customer who copies
    someone's storefront id into their own checkout cannot take over that shopper's
    history (found on a running shop). Returns the number of events that changed
    hands. Idempotent: a second merge finds nothing left to move.
    """
    ids = _mergeable(anonymous_ids)
    if not ids:
        return 0
    taken = set(
        AnonymousIdentity.objects.filter(anonymous_id__in=ids)
        .exclude(customer_id=customer_id)
        .values_list("anonymous_id", flat=True)
    )
    if taken:
        logger.warning(
            "%d anonymous id(s) already belong to another customer; not merged into %s",
            len(taken),
            customer_id,
        )
        ids = [i for i in ids if i not in taken]
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


def identities_of(customer_id: int, email: str = "", email_digest: str = "") -> list[str]:
    """Every anonymous id known to belong to the customer (for erasure).

    The email ids are included so erasure also removes guest orders placed with the
    customer's address.
    """
    ids = set(
        AnonymousIdentity.objects.filter(customer_id=customer_id).values_list(
            "anonymous_id", flat=True
        )
    )
    if email:
        ids.update((email_identity(email), legacy_email_identity(email)))
    if email_digest:
        ids.add(identity_of_digest(email_digest))
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
    """Tie a storefront's anonymous id to a checkout; merge it if the checkout is an account's.

    ``customer_id`` is the checkout's ``user`` as Saleor holds it now (proof); else the
    cart's recorded owner, which is also only ever the checkout's user (a worker may run
    this after the snapshot of a ``checkoutCustomerAttach``). A guest checkout merges
    nothing here: the id is merged later if the checkout is attached to an account or
    its order is placed by one (``recording``); what the guest did in the checkout
    before the storefront named it (the add that created it) moves from the checkout's
    id to the storefront's, so the visitor's session includes it. Returns how many
    events changed hands.
    """
    from ..models import CartState

    with transaction.atomic():
        state, _ = CartState.objects.select_for_update().get_or_create(token=token)
        if state.anonymous_id != anonymous_id:
            state.anonymous_id = anonymous_id
            state.save(update_fields=["anonymous_id"])
        customer = customer_id or state.customer_id
        if not customer:
            Interaction.objects.filter(
                anonymous_id=checkout_identity(token), customer_id__isnull=True
            ).update(anonymous_id=anonymous_id)
    if not customer:
        return 0
    return merge_identities([checkout_identity(token), anonymous_id], customer)
