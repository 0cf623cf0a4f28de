"""What an email shows, as plain values, and where it comes from."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class EmailLine:
    product_id: int
    name: str
    variant: str
    quantity: int
    unit_price: Decimal | None
    currency: str
    image_url: str = ""

    @property
    def total(self) -> Decimal | None:
        return None if self.unit_price is None else self.unit_price * self.quantity


@dataclass(frozen=True)
class EmailProduct:
    product_id: int
    name: str
    price: Decimal | None
    currency: str
    image_url: str = ""
    slug: str = ""


@dataclass(frozen=True)
class CheckoutContent:
    """A checkout as the email needs it, read when the email is sent."""

    token: str
    email: str
    channel: str
    currency: str
    language: str
    lines: list[EmailLine]
    first_name: str = ""
    customer_id: int | None = None  # the account the checkout belongs to, by login
    account_email: str = ""  # that account's own address
    channel_active: bool = True
    completed: bool = False

    @property
    def shopper_id(self) -> int | None:
        """The customer whose history, consent and codes this email may use, or None.

        Only the account that owns the checkout (a logged-in checkout), and only when
        the email goes to that account's own address: a typed address proves nothing,
        so a guest checkout, or an account's checkout sent elsewhere, gets no one's
        personal content.
        """
        if not self.customer_id or not self.account_email:
            return None
        if self.account_email.strip().lower() != self.email.strip().lower():
            return None
        return self.customer_id

    @property
    def total(self) -> Decimal:
        return sum((line.total or Decimal(0) for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class ShopInfo:
    name: str
    public_url: str  # where the plugin's URLs (pixel, clicks, unsubscribe) are served
    sender_address: str
    # Why links may not work: e.g. Saleor's Site domain is still the default.
    warnings: tuple[str, ...] = ()


class CheckoutSource(Protocol):
    def content(self, token: str) -> CheckoutContent | None:
        """The checkout now, or None if it no longer exists."""

    def products(self, product_ids: list[int], channel: str) -> list[EmailProduct]:
        """Display data for recommended products, in the given order."""

    def shop(self) -> ShopInfo: ...

    def notify(self, payload: dict, channel: str) -> None:
        """Hand the email to apps subscribed to NOTIFY_USER (no-op standalone)."""
