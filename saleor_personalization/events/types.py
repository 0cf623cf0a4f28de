"""Value objects that carry an event from a hook (or the storefront) to the recorder.

They are JSON-serialisable through ``to_payload``/``from_payload`` so a hook can hand
them to a Celery task without the task reading Saleor rows that may be gone by then
(a completed checkout is deleted before ``order_created`` runs).
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class LineSnapshot:
    product_id: int
    variant_id: int | None
    quantity: int
    unit_price: Decimal | None = None
    currency: str = ""
    line_ref: str = ""

    @property
    def key(self) -> str:
        """Lines are compared by variant; a product without variants by product."""
        return f"v{self.variant_id}" if self.variant_id is not None else f"p{self.product_id}"

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "LineSnapshot":
        price = data.get("unit_price")
        return cls(
            product_id=int(data["product_id"]),
            variant_id=None if data.get("variant_id") is None else int(data["variant_id"]),
            quantity=int(data["quantity"]),
            unit_price=None if price in (None, "") else Decimal(str(price)),
            currency=data.get("currency", ""),
            line_ref=data.get("line_ref", ""),
        )


def _payload(obj) -> dict[str, Any]:
    data = asdict(obj)
    data["occurred_at"] = obj.occurred_at.isoformat()
    for line in data["lines"]:
        if line["unit_price"] is not None:
            line["unit_price"] = str(line["unit_price"])
    return data


@dataclass(frozen=True)
class CartSnapshot:
    """A checkout's contents at one moment, with everything known about the shopper."""

    token: str
    channel: str
    occurred_at: datetime
    lines: tuple[LineSnapshot, ...] = ()
    customer_id: int | None = None
    email: str = ""
    anonymous_id: str = ""
    language_code: str = ""

    def to_payload(self) -> dict[str, Any]:
        return _payload(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "CartSnapshot":
        return cls(
            token=data["token"],
            channel=data.get("channel", ""),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            lines=tuple(LineSnapshot.from_payload(line) for line in data.get("lines", ())),
            customer_id=data.get("customer_id"),
            email=data.get("email", ""),
            anonymous_id=data.get("anonymous_id", ""),
            language_code=data.get("language_code", ""),
        )


@dataclass(frozen=True)
class OrderSnapshot:
    """A placed order: the purchases it records and the checkout it came from."""

    order_id: str
    channel: str
    occurred_at: datetime
    lines: tuple[LineSnapshot, ...] = ()
    customer_id: int | None = None
    email: str = ""
    checkout_token: str = ""
    number: str = ""
    voucher_code: str = ""
    total: Decimal | None = None
    currency: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        data = _payload(self)
        data["total"] = None if self.total is None else str(self.total)
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> "OrderSnapshot":
        total = data.get("total")
        return cls(
            order_id=str(data["order_id"]),
            channel=data.get("channel", ""),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            lines=tuple(LineSnapshot.from_payload(line) for line in data.get("lines", ())),
            customer_id=data.get("customer_id"),
            email=data.get("email", ""),
            checkout_token=data.get("checkout_token", ""),
            number=str(data.get("number", "")),
            voucher_code=data.get("voucher_code", "") or "",
            total=None if total in (None, "") else Decimal(str(total)),
            currency=data.get("currency", ""),
            extra=data.get("extra", {}),
        )
