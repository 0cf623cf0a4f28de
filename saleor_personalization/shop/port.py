"""What the core needs from the shop it runs in: the one port between them.

The core (recommender, segments, offers, emails, events, services, the GraphQL
schema) never asks which shop it runs in; it asks :func:`~.get_shop` for the
:class:`Shop` chosen once at start-up and uses these capabilities. Two
implementations exist: ``saleor_adapter.shop.SaleorShop`` (a Saleor plugin, reading
Saleor's tables) and ``standalone.shop.StandaloneShop`` (the plugin's own tables and
settings). Everything is expressed in the core's own value objects, so a third
implementation over Saleor's webhooks and GraphQL API (a Saleor App) can be written
without touching the core: its catalogue would read products over GraphQL, its
vouchers would call ``voucherCodeBulkCreate``, its configuration would live in app
metadata.
"""

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.db.models import OuterRef, Q

    from ..configuration import PersonalizationConfig
    from ..emails.content import CheckoutSource
    from ..emails.delivery import SmtpSettings
    from ..events.recording import OrderClaim
    from ..events.types import CartSnapshot, OrderSnapshot
    from ..features.customers import CustomerFeatures
    from ..features.items import ItemFeatures
    from ..graphql.backend import ShopBackend
    from ..models import ModelRun
    from ..offers.campaigns import Campaign, VoucherCodes
    from ..offers.issuing import IssueReport


class ShopCapabilityMissing(RuntimeError):
    """The shop this process runs in cannot do this (e.g. backfill without Saleor)."""


@dataclass(frozen=True)
class VoucherSummary:
    """What a customer is shown of the voucher behind one of their offers."""

    name: str
    discount_type: str  # "percentage" or "fixed"
    discount_values: dict  # currency -> Decimal


@dataclass(frozen=True)
class GraphQLScalars:
    """Scalars a schema shared with the shop's must reuse (graphene refuses two of a name)."""

    date: type
    date_time: type
    json_string: type


class ConfigurationStore(Protocol):
    """Where the admin's settings live (Saleor's Dashboard, or Django settings)."""

    def load(self) -> tuple["PersonalizationConfig", bool]:
        """The settings and whether the plugin is active."""

    def write_model_status(self, run: "ModelRun") -> None:
        """Show a run's outcome where the admin looks (no-op where there is no place)."""


class Database(Protocol):
    """Which connection reads and which writes, as the shop requires."""

    def writer(self) -> AbstractContextManager:
        """Enter before writing outside a request (Saleor refuses writer access otherwise)."""

    def reader(self) -> str:
        """The alias the shop's own rows are read from (its replica)."""


class Catalogue(Protocol):
    def items(self, product_ids: Sequence[int]) -> list["ItemFeatures"]:
        """Features of these products; products the shop no longer has are absent."""

    def in_stock_condition(self, channel: str, product: "OuterRef") -> "Q | None":
        """A query condition: the shop can sell the product ``product`` refers to in
        ``channel`` now. The core filters its candidates by it in the same query that
        reads their channel state (one round trip). None: use the synced flag."""


class Customers(Protocol):
    def features(
        self,
        customer_ids: Sequence[int],
        consent_key: str = "",
        attribute_keys: Sequence[str] = (),
    ) -> list["CustomerFeatures"]:
        """Profiles of these customers, with the metadata ``attribute_keys`` as features."""

    def emails(self, customer_ids: Sequence[int]) -> dict[int, str]:
        """Current addresses of these customers (for owner checks on codes)."""

    def linked_order_claims(self, customer_ids: Sequence[int]) -> list["OrderClaim"]:
        """Guest orders the shop has since linked to these accounts."""

    def write_segments(self) -> int:
        """Mirror segment memberships where the admin can filter customers; rows written."""


class Vouchers(Protocol):
    def codes(self) -> "VoucherCodes": ...

    def campaigns(self, config: "PersonalizationConfig") -> list["Campaign"]:
        """Vouchers the admin targeted at a segment, and the automations switched on."""

    def report(self, campaigns: list["Campaign"], report: "IssueReport") -> None:
        """Write each campaign's outcome where the admin sees the voucher."""

    def summaries(self, voucher_ids: Sequence[int]) -> dict[int, VoucherSummary]: ...


class Mail(Protocol):
    def checkouts(self) -> "CheckoutSource":
        """Checkout content, product display data and the shop's name for emails."""

    def smtp(self, config: "PersonalizationConfig") -> "SmtpSettings | None":
        """The SMTP server to use, or None for Django's email backend."""


class History(Protocol):
    """The shop's own records, read in bounded batches by backfill and reconcile.

    A shop that keeps no records of its own (standalone: the order export is loaded
    straight into the plugin's tables) raises :class:`ShopCapabilityMissing`.
    """

    def product_id_batches(self, batch_size: int) -> Iterator[list[int]]: ...

    def customer_id_batches(self, batch_size: int) -> Iterator[list[int]]: ...

    def order_batches(
        self, since: datetime | None, batch_size: int
    ) -> Iterator[list["OrderSnapshot"]]: ...

    def checkout_batches(self, batch_size: int) -> Iterator[list["CartSnapshot"]]: ...

    def existing_customer_ids(self, customer_ids: list[int]) -> set[int]: ...

    def owners_of_orders(self, order_ids: list[str]) -> list["OrderClaim"]:
        """Of these orders, those the shop now holds under an account."""

    def open_checkout_tokens(self, tokens: list[str]) -> set[str]:
        """Of these checkout tokens, those the shop still has."""


class Shop(Protocol):
    """A shop the core can run in, composed of the capabilities above."""

    name: str  # "saleor", "standalone", ...
    configuration: ConfigurationStore
    database: Database
    catalogue: Catalogue
    customers: Customers
    vouchers: Vouchers
    mail: Mail
    history: History

    def ready(self) -> None:
        """Called once from ``AppConfig.ready()``: connect what the shop needs (signals)."""

    def graphql_backend(self) -> "ShopBackend":
        """The GraphQL product type and request handling of this shop."""

    def graphql_scalars(self) -> "GraphQLScalars":
        """``Date``, ``DateTime`` and ``JSONString`` as the shop's own schema defines them."""
