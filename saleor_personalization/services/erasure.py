"""Erase a customer (account deleted in the shop, or a data-subject request)."""

from ..events.erasure import ErasureReport
from ..events.erasure import erase_customer as erase_records
from ..shop import get_shop


def erase_customer(customer_id: int, email: str = "") -> ErasureReport:
    """Delete everything the plugin holds on this customer, with the shop's writer."""
    with get_shop().database.writer():
        return erase_records(customer_id, email)
