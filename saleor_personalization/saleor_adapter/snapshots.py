"""Build event snapshots from Saleor's checkout and order objects.

Each builder costs one query (the lines with their product ids) so the hooks that call
them stay cheap; everything else the recorder needs is already on the object.
"""

from datetime import UTC, datetime
from decimal import Decimal

from ..events.types import CartSnapshot, LineSnapshot, OrderSnapshot
from .metadata import storefront_id_of


def cart_snapshot(checkout, *, include_email: bool = True) -> CartSnapshot:
    """A :class:`CartSnapshot` of a ``saleor.checkout.models.Checkout``.

    The storefront's anonymous id comes along when the checkout already carries it
    (``checkoutCreate`` accepts metadata): the first cart add is then the visitor's.
    """
    rows = checkout.lines.filter(is_gift=False).values_list(
        "variant_id", "variant__product_id", "quantity"
    )
    return CartSnapshot(
        token=str(checkout.token),
        channel=checkout.channel.slug,
        occurred_at=checkout.last_change or datetime.now(tz=UTC),
        lines=tuple(
            LineSnapshot(product_id=product_id, variant_id=variant_id, quantity=quantity)
            for variant_id, product_id, quantity in rows
        ),
        customer_id=checkout.user_id,
        anonymous_id=storefront_id_of(checkout),
        email=(checkout.email or "") if include_email else "",
        language_code=checkout.language_code or "",
    )


# The order-line columns a purchase needs, in the order ``order_line`` reads them.
ORDER_LINE_FIELDS = (
    "id",
    "variant_id",
    "variant__product_id",
    "quantity",
    "unit_price_gross_amount",
    "currency",
)


def order_line(row) -> LineSnapshot:
    """A :class:`LineSnapshot` from a ``values_list(*ORDER_LINE_FIELDS)`` row."""
    line_id, variant_id, product_id, quantity, price, currency = row
    return LineSnapshot(
        product_id=product_id,
        variant_id=variant_id,
        quantity=quantity,
        unit_price=Decimal(price),
        currency=currency,
        line_ref=str(line_id),
    )


def order_snapshot(order) -> OrderSnapshot:
    """An :class:`OrderSnapshot` of a ``saleor.order.models.Order``.

    Lines whose variant was deleted since the order have no product and are skipped:
    the recommender cannot use a product it cannot show.
    """
    rows = order.lines.filter(is_gift=False, variant__isnull=False).values_list(*ORDER_LINE_FIELDS)
    return OrderSnapshot(
        order_id=str(order.pk),
        number=str(order.number),
        channel=order.channel.slug,
        occurred_at=order.created_at,
        customer_id=order.user_id,
        email=order.user_email or "",
        checkout_token=order.checkout_token or "",
        voucher_code=order.voucher_code or "",
        total=Decimal(order.total_gross_amount),
        currency=order.currency,
        lines=tuple(order_line(row) for row in rows),
    )
