"""Customer erasure: everything the plugin holds about a person goes.

Called when Saleor deletes a customer (staff ``customerDelete`` or the customer's own
``accountDelete``). Later capabilities register what they store with
:func:`register_eraser`, so one call covers every table.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from ..emails.links import email_hashes
from ..models import (
    AbandonedEmail,
    AnonymousIdentity,
    CartState,
    CustomerProfile,
    EmailStatus,
    ErasedIdentity,
    Interaction,
    ListKind,
    RecommendationClick,
    RecommendationList,
    SegmentMembership,
    SubjectType,
)
from .identity import address_digest, customer_identity, identities_of, identity_of_digest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureRequest:
    customer_id: int
    email: str
    anonymous_ids: tuple[str, ...]


@dataclass
class ErasureReport:
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


Eraser = Callable[[ErasureRequest], dict[str, int]]
_ERASERS: list[Eraser] = []


def register_eraser(eraser: Eraser) -> Eraser:
    """Add a function that deletes one capability's data for a request."""
    if eraser not in _ERASERS:
        _ERASERS.append(eraser)
    return eraser


def _count(result: tuple[int, dict]) -> int:
    return result[0]


@register_eraser
def _erase_behaviour(request: ErasureRequest) -> dict[str, int]:
    behaviour = Q(customer_id=request.customer_id)
    if request.anonymous_ids:
        behaviour |= Q(anonymous_id__in=request.anonymous_ids)
    carts = Q(customer_id=request.customer_id)
    if request.email:
        carts |= Q(email__iexact=request.email)
    return {
        "interactions": _count(Interaction.objects.filter(behaviour).delete()),
        "recommendation_clicks": _count(RecommendationClick.objects.filter(behaviour).delete()),
        "carts": _count(CartState.objects.filter(carts).delete()),
        **_erase_emails(request),
        "identities": _count(
            AnonymousIdentity.objects.filter(customer_id=request.customer_id).delete()
        ),
        "profiles": _count(
            CustomerProfile.objects.filter(customer_id=request.customer_id).delete()
        ),
        "segment_memberships": _count(
            SegmentMembership.objects.filter(customer_id=request.customer_id).delete()
        ),
        "lists": _count(
            RecommendationList.objects.filter(
                kind__in=ListKind.per_customer(),
                subject_type=SubjectType.CUSTOMER,
                subject_id=request.customer_id,
            ).delete()
        ),
    }


def _erase_emails(request: ErasureRequest) -> dict[str, int]:
    """The customer's reminder emails: unsent ones deleted, sent ones made anonymous.

    A sent email's outcome (step, status, when it was opened or clicked, the revenue of
    the order it recovered) is the merchant's campaign figure, not the customer's data
    once nothing ties it to them: without the customer, the address's hash, the
    checkout, the order, the subject (it may greet them by name) and the code, the row
    only counts in the email report, which erasing a customer would otherwise rewrite.
    """
    mine = Q(customer_id=request.customer_id)
    if request.email:
        mine |= Q(recipient_hash__in=email_hashes(request.email))
    rows = AbandonedEmail.objects.filter(mine)
    deleted = _count(rows.filter(status=EmailStatus.PENDING).delete())
    anonymised = rows.update(
        customer_id=None,
        recipient_hash="",
        checkout_token=Concat(Value("erased-"), Cast("pk", CharField())),
        subject="",
        message_id="",
        voucher_code="",
        error="",
        order_ref=Case(When(order_ref="", then=Value("")), default=Value("erased")),
    )
    return {"abandoned_emails": deleted, "abandoned_emails_anonymised": anonymised}


def erase_customer(customer_id: int, email: str = "") -> ErasureReport:
    """Delete the customer's behaviour data and everything derived from it.

    Without ``email`` (an account deleted behind the plugin's back) the profile's
    keyed hash of the address still finds and tombstones their guest orders.
    """
    digest = address_digest(email) or (
        CustomerProfile.objects.filter(customer_id=customer_id)
        .values_list("email_digest", flat=True)
        .first()
        or ""
    )
    request = ErasureRequest(
        customer_id=customer_id,
        email=email,
        anonymous_ids=tuple(identities_of(customer_id, email, digest)),
    )
    report = ErasureReport()
    tombstones = [customer_identity(customer_id)]
    if digest:
        tombstones.append(identity_of_digest(digest))
    now = timezone.now()
    with transaction.atomic():
        for eraser in _ERASERS:
            report.deleted.update(eraser(request))
        for identity in tombstones:
            ErasedIdentity.objects.update_or_create(identity=identity, defaults={"erased_at": now})
    logger.info("Erased customer %s: %s", customer_id, report.deleted)
    return report
