"""Read Saleor's order and checkout history in bounded batches.

Orders are paged by keyset on ``(created_at, id)`` (Saleor indexes ``created_at``),
never with OFFSET and never all at once, so a shop with millions of order lines is
read in constant memory and the read works behind pgbouncer, where server-side
cursors are not available.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from ..events.recording import OrderClaim
from ..events.types import CartSnapshot, LineSnapshot, OrderSnapshot
from .db import replica_name
from .snapshots import ORDER_LINE_FIELDS, order_line

EXCLUDED_ORDER_STATUSES = ("draft", "expired", "canceled")


def iter_order_batches(
    *, since: datetime | None = None, batch_size: int = 500
) -> Iterator[list[OrderSnapshot]]:
    from saleor.order.models import Order, OrderLine

    orders = (
        Order.objects.using(replica_name())
        .exclude(status__in=EXCLUDED_ORDER_STATUSES)
        .order_by("created_at", "id")
    )
    if since is not None:
        orders = orders.filter(created_at__gte=since)
    cursor: tuple[datetime, object] | None = None
    while True:
        page = orders
        if cursor is not None:
            page = page.filter(
                Q(created_at__gt=cursor[0]) | Q(created_at=cursor[0], id__gt=cursor[1])
            )
        rows = list(
            page.values(
                "id",
                "number",
                "created_at",
                "channel__slug",
                "user_id",
                "user_email",
                "checkout_token",
                "voucher_code",
                "total_gross_amount",
                "currency",
            )[:batch_size]
        )
        if not rows:
            return
        cursor = (rows[-1]["created_at"], rows[-1]["id"])
        lines = defaultdict(list)
        for line in (
            OrderLine.objects.using(replica_name())
            .filter(order_id__in=[row["id"] for row in rows], variant__isnull=False, is_gift=False)
            .order_by()
            .values_list("order_id", *ORDER_LINE_FIELDS)
        ):
            lines[line[0]].append(order_line(line[1:]))
        yield [
            OrderSnapshot(
                order_id=str(row["id"]),
                number=str(row["number"]),
                channel=row["channel__slug"],
                occurred_at=row["created_at"],
                customer_id=row["user_id"],
                email=row["user_email"] or "",
                checkout_token=row["checkout_token"] or "",
                voucher_code=row["voucher_code"] or "",
                total=Decimal(row["total_gross_amount"]),
                currency=row["currency"],
                lines=tuple(lines.get(row["id"], ())),
            )
            for row in rows
        ]


def iter_checkout_batches(batch_size: int = 500) -> Iterator[list[CartSnapshot]]:
    """Open checkouts with lines, oldest change first."""
    from saleor.checkout.models import Checkout, CheckoutLine

    checkouts = (
        Checkout.objects.using(replica_name())
        .filter(lines__isnull=False)
        .distinct()
        .order_by("token")
    )
    last = None
    while True:
        page = checkouts if last is None else checkouts.filter(token__gt=last)
        rows = list(
            page.values(
                "token", "channel__slug", "user_id", "email", "language_code", "last_change"
            )[:batch_size]
        )
        if not rows:
            return
        last = rows[-1]["token"]
        lines = defaultdict(list)
        for token, variant_id, product_id, quantity in (
            CheckoutLine.objects.using(replica_name())
            .filter(checkout_id__in=[row["token"] for row in rows], is_gift=False)
            .order_by()
            .values_list("checkout_id", "variant_id", "variant__product_id", "quantity")
        ):
            lines[token].append(LineSnapshot(product_id, variant_id, quantity))
        yield [
            CartSnapshot(
                token=str(row["token"]),
                channel=row["channel__slug"],
                occurred_at=row["last_change"],
                lines=tuple(lines.get(row["token"], ())),
                customer_id=row["user_id"],
                email=row["email"] or "",
                language_code=row["language_code"] or "",
            )
            for row in rows
        ]


def existing_customer_ids(customer_ids: list[int]) -> set[int]:
    from saleor.account.models import User

    return set(
        User.objects.using(replica_name()).filter(pk__in=customer_ids).values_list("pk", flat=True)
    )


def linked_order_claims(customer_ids: list[int]) -> list[OrderClaim]:
    """The orders Saleor holds under these accounts (placed by them, or linked later)."""
    from saleor.order.models import Order

    if not customer_ids:
        return []
    return [
        OrderClaim(str(order_id), user_id, str(token or ""))
        for order_id, user_id, token in Order.objects.using(replica_name())
        .filter(user_id__in=customer_ids)
        .exclude(status__in=EXCLUDED_ORDER_STATUSES)
        .values_list("id", "user_id", "checkout_token")
    ]


def owners_of_orders(order_ids: list[str]) -> list[OrderClaim]:
    """Of these orders, those Saleor now holds under an account, with that account."""
    from saleor.order.models import Order

    valid = []
    for order_id in order_ids:
        try:
            valid.append(uuid.UUID(order_id))
        except ValueError:
            continue  # not a Saleor order id (an order export's, standalone)
    if not valid:
        return []
    return [
        OrderClaim(str(order_id), user_id, str(token or ""))
        for order_id, user_id, token in Order.objects.using(replica_name())
        .filter(pk__in=valid, user_id__isnull=False)
        .values_list("id", "user_id", "checkout_token")
    ]


def open_checkout_tokens(tokens: list[str]) -> set[str]:
    """Of these checkout tokens, those Saleor still has."""
    from saleor.checkout.models import Checkout

    valid = []
    for token in tokens:
        try:
            valid.append(uuid.UUID(token))
        except ValueError:
            continue
    return {
        str(token)
        for token in Checkout.objects.using(replica_name())
        .filter(token__in=valid)
        .values_list("token", flat=True)
    }
