"""Tasks that write the interaction log; small, idempotent, retried on database errors."""

import logging

from celery import shared_task
from django.db import DatabaseError

from ..emails.tracking import attribute_order
from ..events.identity import link_checkout, merge_identities
from ..events.recording import record_cart, record_order
from ..events.types import CartSnapshot, OrderSnapshot
from ..services.erasure import erase_customer
from ..shop import get_shop
from .segments import request_segment_refresh

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(name="saleor_personalization.record_cart", **RETRY)
def record_cart_task(payload: dict) -> int:
    with get_shop().database.writer():
        return record_cart(CartSnapshot.from_payload(payload)).created


@shared_task(name="saleor_personalization.record_order", **RETRY)
def record_order_task(payload: dict) -> int:
    snapshot = OrderSnapshot.from_payload(payload)
    with get_shop().database.writer():
        created = record_order(snapshot).created
        if snapshot.checkout_token:
            attribute_order(
                snapshot.checkout_token, snapshot.order_id, snapshot.total, snapshot.currency
            )
    if created:
        request_segment_refresh()
        if snapshot.customer_id:
            # Their list follows the order in seconds, not at the next training.
            from .session import request_customer_rescore

            request_customer_rescore(snapshot.customer_id)
    return created


@shared_task(name="saleor_personalization.merge_identity", **RETRY)
def merge_identity_task(anonymous_ids: list[str], customer_id: int) -> int:
    """Merge ids proven to be the customer's (email ids are never merged)."""
    with get_shop().database.writer():
        return merge_identities(anonymous_ids, customer_id)


@shared_task(name="saleor_personalization.erase_customer", **RETRY)
def erase_customer_task(customer_id: int, email: str = "") -> dict:
    return erase_customer(customer_id, email).deleted


@shared_task(name="saleor_personalization.link_checkout", **RETRY)
def link_checkout_task(token: str, anonymous_id: str, customer_id: int | None = None) -> int:
    with get_shop().database.writer():
        return link_checkout(token, anonymous_id, customer_id)
