"""Customer fields: the logged-in customer's own segments, offers and consent.

Each resolver gets ``customer_id`` from the schema's ``customer(...)`` binder, which
refuses anyone who is not a logged-in customer before the resolver runs. The data
comes from the modules that own it; these resolvers only shape it for the schema.
"""

from django.utils import timezone

from ..emails.consent import set_marketing_consent
from ..offers.display import customer_offers
from ..segments.compute import customer_segments
from ..shop import get_shop
from .backend import ShopBackend


def my_segments(backend: ShopBackend, info, *, customer_id: int) -> list[dict]:
    return [
        {
            "key": segment.key,
            "name": segment.name,
            "description": segment.description,
            "entered_at": segment.entered_at,
        }
        for segment in customer_segments(customer_id)
    ]


def my_offers(backend: ShopBackend, info, *, customer_id: int) -> list[dict]:
    return [
        {
            "code": offer.code,
            "voucher_name": offer.voucher_name,
            "discount_type": offer.discount.kind,
            "discount": offer.discount.amount,
            "segment": offer.segment_key,
            "campaign": offer.campaign,
            "issued_at": offer.issued_at,
            "expires_at": offer.expires_at,
        }
        for offer in customer_offers(customer_id, timezone.now())
    ]


def marketing_consent_update(
    backend: ShopBackend, info, *, customer_id: int, granted: bool
) -> dict:
    # The account's own address, from the shop: a grant lifts that address's opt-out.
    address = get_shop().customers.emails([customer_id]).get(customer_id, "") if granted else ""
    change = set_marketing_consent(customer_id, granted, address)
    return {"granted": change.granted, "updated_at": change.updated_at}
