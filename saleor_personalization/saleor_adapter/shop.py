"""The Saleor shop: the port implemented over Saleor's models, inside Saleor's process.

Each capability is a thin class over the module that reads or writes that part of
Saleor, so a Saleor upgrade that moves a model changes one module here and nothing
in the core.
"""

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

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
from ..shop.port import GraphQLScalars, VoucherSummary
from . import catalogue, customers, db, history, vouchers
from .configuration import load_configuration


class SaleorConfiguration:
    def load(self) -> tuple[PersonalizationConfig, bool]:
        return load_configuration()

    def write_model_status(self, run: ModelRun) -> None:
        from .status import write_model_status

        write_model_status(run)


class SaleorDatabase:
    def writer(self) -> AbstractContextManager:
        return db.allow_writer()

    def reader(self) -> str:
        return db.replica_name()


class SaleorCatalogue:
    def items(self, product_ids: Sequence[int]) -> list[ItemFeatures]:
        return catalogue.read_items(product_ids)

    def in_stock_condition(self, channel: str, product: OuterRef) -> Q | None:
        from .availability import in_stock_condition

        return in_stock_condition(channel, product)


class SaleorCustomers:
    def features(
        self,
        customer_ids: Sequence[int],
        consent_key: str = "",
        attribute_keys: Sequence[str] = (),
    ) -> list[CustomerFeatures]:
        return customers.read_customers(customer_ids, consent_key, attribute_keys)

    def emails(self, customer_ids: Sequence[int]) -> dict[int, str]:
        return customers.customer_emails(customer_ids)

    def linked_order_claims(self, customer_ids: Sequence[int]) -> list[OrderClaim]:
        return history.linked_order_claims(list(customer_ids))

    def write_segments(self) -> int:
        from .metadata import write_customer_segments

        return write_customer_segments()


class SaleorVouchers:
    def codes(self) -> VoucherCodes:
        return vouchers.SaleorVoucherCodes()

    def campaigns(self, config: PersonalizationConfig) -> list[Campaign]:
        return vouchers.targeted_campaigns(config)

    def report(self, campaigns: list[Campaign], report: IssueReport) -> None:
        vouchers.report_campaigns(campaigns, report)

    def summaries(self, voucher_ids: Sequence[int]) -> dict[int, VoucherSummary]:
        return vouchers.voucher_summaries(list(voucher_ids))


class SaleorMail:
    def checkouts(self) -> CheckoutSource:
        from .email_content import SaleorCheckoutSource

        return SaleorCheckoutSource()

    def smtp(self, config: PersonalizationConfig) -> SmtpSettings | None:
        from .email_content import smtp_settings

        return smtp_settings(config)


class SaleorHistory:
    def product_id_batches(self, batch_size: int) -> Iterator[list[int]]:
        return catalogue.iter_product_ids(batch_size)

    def customer_id_batches(self, batch_size: int) -> Iterator[list[int]]:
        return customers.iter_customer_ids(batch_size)

    def order_batches(
        self, since: datetime | None, batch_size: int
    ) -> Iterator[list[OrderSnapshot]]:
        return history.iter_order_batches(since=since, batch_size=batch_size)

    def checkout_batches(self, batch_size: int) -> Iterator[list[CartSnapshot]]:
        return history.iter_checkout_batches(batch_size)

    def existing_customer_ids(self, customer_ids: list[int]) -> set[int]:
        return history.existing_customer_ids(customer_ids)

    def owners_of_orders(self, order_ids: list[str]) -> list[OrderClaim]:
        return history.owners_of_orders(order_ids)

    def open_checkout_tokens(self, tokens: list[str]) -> set[str]:
        return history.open_checkout_tokens(tokens)


class SaleorShop:
    name = "saleor"

    def __init__(self) -> None:
        self.configuration = SaleorConfiguration()
        self.database = SaleorDatabase()
        self.catalogue = SaleorCatalogue()
        self.customers = SaleorCustomers()
        self.vouchers = SaleorVouchers()
        self.mail = SaleorMail()
        self.history = SaleorHistory()
        self._backend: ShopBackend | None = None

    def ready(self) -> None:
        # The optional single-endpoint patch needs Saleor's built schema, which exists
        # only once Saleor serves requests.
        from django.core.signals import request_started

        from .schema_patch import install_if_enabled

        request_started.connect(install_if_enabled, dispatch_uid="personalization-schema")

    def graphql_backend(self) -> ShopBackend:
        if self._backend is None:
            from .graphql_backend import SaleorBackend

            self._backend = SaleorBackend()
        return self._backend

    def graphql_scalars(self) -> GraphQLScalars:
        from saleor.graphql.core.fields import JSONString
        from saleor.graphql.core.scalars import Date, DateTime

        return GraphQLScalars(date=Date, date_time=DateTime, json_string=JSONString)
