"""The standalone shop: the plugin's own tables and Django settings, no Saleor.

Used to measure what the plugin would do on an order export before a merchant
switches it on in Saleor (``saleor-personalization demo``, ``serve``). There is no
Dashboard (settings come from ``PERSONALIZATION_CONFIGURATION``, and the plugin
counts as active), no voucher store (a code is as good as its offer) and no shop
records beyond what ``load`` imported.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

import graphene
from django.conf import settings
from django.db.models import OuterRef, Q

from ..configuration import PersonalizationConfig, parse_configuration
from ..emails.content import CheckoutSource
from ..emails.delivery import SmtpSettings, plugin_smtp_settings
from ..events.recording import OrderClaim
from ..events.types import CartSnapshot, OrderSnapshot
from ..features.customers import CustomerFeatures
from ..features.items import ItemFeatures
from ..graphql.backend import ShopBackend
from ..models import ModelRun
from ..offers.campaigns import Campaign, CodeUse, VoucherCodes
from ..offers.issuing import IssueReport
from ..shop.port import GraphQLScalars, ShopCapabilityMissing, VoucherSummary

NO_HISTORY = (
    "the standalone shop keeps no records of its own: load an order export with "
    "'saleor-personalization load', or run this inside Saleor "
    "(DJANGO_SETTINGS_MODULE=saleor.settings)"
)


class StandaloneConfiguration:
    def load(self) -> tuple[PersonalizationConfig, bool]:
        return parse_configuration(getattr(settings, "PERSONALIZATION_CONFIGURATION", {})), True

    def write_model_status(self, run: ModelRun) -> None:
        """No Dashboard: the run row itself (CLI, staff GraphQL) is the status."""


class StandaloneDatabase:
    def writer(self) -> AbstractContextManager:
        return nullcontext()

    def reader(self) -> str:
        return "default"


class StandaloneCatalogue:
    def items(self, product_ids: Sequence[int]) -> list[ItemFeatures]:
        """Item profiles are written by the importer; there is nothing else to read."""
        return []

    def in_stock_condition(self, channel: str, product: OuterRef) -> Q | None:
        return None  # the synced in_stock flag is the truth here


class StandaloneCustomers:
    def features(
        self,
        customer_ids: Sequence[int],
        consent_key: str = "",
        attribute_keys: Sequence[str] = (),
    ) -> list[CustomerFeatures]:
        return []

    def emails(self, customer_ids: Sequence[int]) -> dict[int, str]:
        return {}

    def linked_order_claims(self, customer_ids: Sequence[int]) -> list[OrderClaim]:
        return []

    def write_segments(self) -> int:
        return 0  # no customer records to mirror memberships on


class NoVoucherCodes:
    """The offer table is the only code store; no shop applies codes.

    A code is then as good as its offer (open, unredeemed, not expired, which the
    callers check), and no order is ever made with one outside the plugin's view.
    """

    def create(self, voucher_id: int, codes: list[str]) -> None:
        return None

    def deactivate(self, codes: list[str]) -> None:
        return None

    def delete_unused(self, codes: list[str]) -> int:
        return 0

    def accepted(self, codes: list[str], now: datetime) -> set[str]:
        return set(codes)

    def uses(self, codes: Iterable[str]) -> list[CodeUse]:
        return []


class StandaloneVouchers:
    def codes(self) -> VoucherCodes:
        return NoVoucherCodes()

    def campaigns(self, config: PersonalizationConfig) -> list[Campaign]:
        return []  # vouchers are targeted in Saleor's Dashboard

    def report(self, campaigns: list[Campaign], report: IssueReport) -> None:
        return None

    def summaries(self, voucher_ids: Sequence[int]) -> dict[int, VoucherSummary]:
        return {}


class StandaloneMail:
    def checkouts(self) -> CheckoutSource:
        from .email_source import StandaloneCheckoutSource

        return StandaloneCheckoutSource()

    def smtp(self, config: PersonalizationConfig) -> SmtpSettings | None:
        return plugin_smtp_settings(config)


class StandaloneHistory:
    def _missing(self):
        raise ShopCapabilityMissing(NO_HISTORY)

    def product_id_batches(self, batch_size: int) -> Iterator[list[int]]:
        self._missing()

    def customer_id_batches(self, batch_size: int) -> Iterator[list[int]]:
        self._missing()

    def order_batches(
        self, since: datetime | None, batch_size: int
    ) -> Iterator[list[OrderSnapshot]]:
        self._missing()

    def checkout_batches(self, batch_size: int) -> Iterator[list[CartSnapshot]]:
        self._missing()

    def existing_customer_ids(self, customer_ids: list[int]) -> set[int]:
        self._missing()

    def owners_of_orders(self, order_ids: list[str]) -> list[OrderClaim]:
        self._missing()

    def open_checkout_tokens(self, tokens: list[str]) -> set[str]:
        self._missing()


class StandaloneShop:
    name = "standalone"

    def __init__(self) -> None:
        self.configuration = StandaloneConfiguration()
        self.database = StandaloneDatabase()
        self.catalogue = StandaloneCatalogue()
        self.customers = StandaloneCustomers()
        self.vouchers = StandaloneVouchers()
        self.mail = StandaloneMail()
        self.history = StandaloneHistory()
        self._backend: ShopBackend | None = None

    def ready(self) -> None:
        """Nothing to connect: the standalone server's URLs are its own."""

    def graphql_backend(self) -> ShopBackend:
        if self._backend is None:
            from .graphql_backend import StandaloneBackend

            self._backend = StandaloneBackend()
        return self._backend

    def graphql_scalars(self) -> GraphQLScalars:
        return GraphQLScalars(
            date=graphene.Date, date_time=graphene.DateTime, json_string=graphene.JSONString
        )
