"""Celery tasks. Saleor's worker registers only what this module imports.

Every task has an explicit, stable name (``saleor_personalization.<what>``) because
the default name is the defining module, which would change with any refactoring and
orphan queued messages and beat entries.
"""

from .catalogue import delete_products_task, sync_customers_task, sync_products_task
from .emails import scan_abandoned_task, send_abandoned_email_task
from .events import (
    erase_customer_task,
    link_checkout_task,
    merge_identity_task,
    record_cart_task,
    record_order_task,
)
from .maintenance import reconcile_task
from .offers import issue_offers_task
from .recommender import (
    score_all_task,
    score_customers_task,
    train_model_task,
    training_tick_task,
)
from .segments import compute_segments_task
from .session import place_new_products_task, rescore_customer_task

__all__ = [
    "compute_segments_task",
    "delete_products_task",
    "erase_customer_task",
    "issue_offers_task",
    "link_checkout_task",
    "merge_identity_task",
    "place_new_products_task",
    "reconcile_task",
    "record_cart_task",
    "record_order_task",
    "rescore_customer_task",
    "scan_abandoned_task",
    "score_all_task",
    "score_customers_task",
    "send_abandoned_email_task",
    "sync_customers_task",
    "sync_products_task",
    "train_model_task",
    "training_tick_task",
]
