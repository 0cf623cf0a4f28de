"""A customer's own marketing consent, as they grant or withdraw it through the API.

Consent gates every marketing email (:mod:`.sequence` sends only to consenting
customers; :func:`.tracking.unsubscribe` withdraws it), so the latest choice must be
the one kept, even when two requests (two tabs, a double click) arrive together.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import CustomerProfile, EmailOptOut
from .links import email_hashes


@dataclass(frozen=True)
class ConsentChange:
    granted: bool
    updated_at: datetime


def set_marketing_consent(customer_id: int, granted: bool, address: str = "") -> ConsentChange:
    """Record the customer's choice; concurrent calls apply one after the other.

    The profile row is created if missing (its primary key is the customer id, so of
    two concurrent first calls one inserts and the other finds that row) and locked;
    the time is read under the lock, so the choice written last also carries the
    latest ``consent_updated_at`` and a slower request cannot stamp an older time over
    a newer choice.

    A grant also lifts the opt-out of ``address``, the customer's own account address
    (read from the shop, never from the request): the customer who unsubscribed and
    now asks for email again, logged in, is the owner of that address. Other addresses'
    opt-outs stay.
    """
    with transaction.atomic():
        profile, _ = CustomerProfile.objects.select_for_update().get_or_create(
            customer_id=customer_id, defaults={"first_seen_at": timezone.now()}
        )
        now = timezone.now()
        profile.marketing_consent = granted
        profile.consent_updated_at = now
        profile.save(update_fields=["marketing_consent", "consent_updated_at", "updated_at"])
        if granted and address.strip():
            EmailOptOut.objects.filter(email_hash__in=email_hashes(address)).delete()
    return ConsentChange(granted=granted, updated_at=now)
