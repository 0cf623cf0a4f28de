"""Keep lists current between trainings: after an order, and for new products.

- **After an order** the customer's personal list is rescored with the live model
  (their new purchases in its history, the recent-purchase rule on what they just
  bought). Debounced per customer with a cache key: the order hook asks for it, the
  task runs a few seconds later once, however many orders or lines arrived meanwhile.
- **A new product** (created or changed after training) gets an embedding from its
  features and neighbours, and joins the similar lists of its closest products.
"""

import logging

from celery import shared_task
from django.core.cache import cache

from ..services.scoring import place_new_products, rescore_customer
from .events import RETRY

logger = logging.getLogger(__name__)

RESCORE_PENDING = "saleor_personalization:rescore-pending:{}"
RESCORE_DELAY_SECONDS = 5


def request_customer_rescore(customer_id: int, delay_seconds: int = RESCORE_DELAY_SECONDS) -> bool:
    """Queue one rescoring of this customer's list soon; False if one is already queued."""
    key = RESCORE_PENDING.format(int(customer_id))
    if not cache.add(key, "1", timeout=max(delay_seconds * 12, 60)):
        return False
    rescore_customer_task.apply_async(args=[int(customer_id)], countdown=delay_seconds)
    return True


@shared_task(name="saleor_personalization.rescore_customer", **RETRY)
def rescore_customer_task(customer_id: int) -> int:
    """The customer's personal list from the live model, now (no training)."""
    # Cleared first: an order recorded while this runs asks for one more rescoring.
    cache.delete(RESCORE_PENDING.format(int(customer_id)))
    return rescore_customer(int(customer_id))


@shared_task(name="saleor_personalization.place_new_products", **RETRY)
def place_new_products_task(product_ids: list[int]) -> int:
    """Neighbours and similar-list places for products the live model was not trained on."""
    return place_new_products([int(p) for p in product_ids])
