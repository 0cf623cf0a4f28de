"""The plugin's database work inside Saleor's transaction, without ever poisoning it.

Saleor calls hooks such as ``preprocess_order_creation`` in the middle of its own
transaction (``checkoutComplete`` with a payment, draft order completion). On
PostgreSQL one failed statement aborts the whole transaction: if a plugin query fails
there (its table missing, a lock timeout, a bug) and the error is merely caught, every
later Saleor query answers "current transaction is aborted" and the shopper gets an
Internal Server Error, for ordinary Dashboard vouchers as much as for the plugin's.

A savepoint (a nested ``transaction.atomic()``) confines the failure: it is rolled back
to the savepoint, the error is logged, and Saleor carries on as if the plugin had not
been there. Outside a transaction the same block is simply a short transaction of its
own.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


def guarded(what: str, work: Callable[[], T], fallback: T) -> T:
    """Run ``work`` in a savepoint; on any error log it and return ``fallback``.

    ``what`` names the work in the log ("checking voucher code ownership"). Errors
    the caller means to raise into Saleor (a refusal) must be decided from the result,
    outside this call, so they cannot be swallowed here.
    """
    try:
        with transaction.atomic():
            return work()
    except Exception:
        logger.exception("Personalization: %s failed; Saleor carries on without it", what)
        return fallback
