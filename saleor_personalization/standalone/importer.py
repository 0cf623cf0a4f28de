"""Load a cleaned order export into the feature store and the interaction log.

Each (invoice, product) pair becomes one purchase interaction whose ``source_key`` is
derived from the invoice and stock code, so loading the same export twice inserts
nothing and updates nothing.
"""

import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..features.customers import refresh_customer_summaries
from ..models import CustomerProfile, Interaction, InteractionKind, ItemChannel, ItemProfile
from .order_export import (
    CleaningReport,
    OrderLine,
    clean_order_lines,
    country_code,
    read_order_export,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
EXPORT_CURRENCY = "GBP"


@dataclass
class ImportReport:
    cleaning: CleaningReport
    items_created: int = 0
    items_updated: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    interactions_created: int = 0
    interactions_existing: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    countries: Counter = field(default_factory=Counter)

    def as_rows(self) -> list[tuple[str, int]]:
        return [
            ("products created", self.items_created),
            ("products updated", self.items_updated),
            ("customers created", self.customers_created),
            ("customers updated", self.customers_updated),
            ("purchases recorded", self.interactions_created),
            ("purchases already present", self.interactions_existing),
        ]


@dataclass
class _ItemDraft:
    descriptions: Counter = field(default_factory=Counter)
    prices: list[Decimal] = field(default_factory=list)
    first_seen: datetime | None = None


@dataclass
class _PurchaseDraft:
    customer_id: int
    stock_code: str
    invoice: str
    quantity: int
    unit_price: Decimal
    occurred_at: datetime


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def import_order_export(
    path: str | Path,
    *,
    channel: str,
    source: str = "order-export",
    skip_invalid: bool = False,
) -> ImportReport:
    """Read, clean and load ``path``; all of it is written or none of it."""
    cleaning = CleaningReport()
    lines = clean_order_lines(
        read_order_export(path, report=cleaning, skip_invalid=skip_invalid), cleaning
    )
    items: dict[str, _ItemDraft] = defaultdict(_ItemDraft)
    purchases: dict[tuple[str, str], _PurchaseDraft] = {}
    customer_countries: dict[int, Counter] = defaultdict(Counter)
    report = ImportReport(cleaning=cleaning)

    for line in lines:
        _collect(line, items, purchases, customer_countries)
        report.countries[line.country] += 1
        if report.first_order_at is None or line.invoiced_at < report.first_order_at:
            report.first_order_at = line.invoiced_at
        if report.last_order_at is None or line.invoiced_at > report.last_order_at:
            report.last_order_at = line.invoiced_at

    with transaction.atomic():
        product_ids = _write_items(items, channel, report)
        _write_customers(customer_countries, report)
        _write_purchases(purchases, product_ids, channel, source, report)
        refresh_customer_summaries(list(customer_countries))
    logger.info("Imported %s: %s", path, report.as_rows())
    return report


def _collect(
    line: OrderLine,
    items: dict[str, _ItemDraft],
    purchases: dict[tuple[str, str], _PurchaseDraft],
    customer_countries: dict[int, Counter],
) -> None:
    assert line.customer_id is not None  # guests are removed by cleaning
    item = items[line.stock_code]
    if line.description:
        item.descriptions[line.description] += 1
    item.prices.append(line.unit_price)
    if item.first_seen is None or line.invoiced_at < item.first_seen:
        item.first_seen = line.invoiced_at
    customer_countries[line.customer_id][line.country] += 1

    key = (line.invoice, line.stock_code)
    existing = purchases.get(key)
    if existing is None:
        purchases[key] = _PurchaseDraft(
            customer_id=line.customer_id,
            stock_code=line.stock_code,
            invoice=line.invoice,
            quantity=line.quantity,
            unit_price=line.unit_price,
            occurred_at=line.invoiced_at,
        )
    else:
        # The same product twice on one invoice is one purchase of the summed quantity.
        existing.quantity += line.quantity


def _write_items(items: dict[str, _ItemDraft], channel: str, report: ImportReport) -> dict:
    existing = {
        profile.external_ref: profile
        for profile in ItemProfile.objects.filter(external_ref__in=list(items))
    }
    next_id = (ItemProfile.objects.aggregate(top=Max("product_id"))["top"] or 0) + 1
    to_create, to_update = [], []
    for code in sorted(items):
        draft = items[code]
        name = draft.descriptions.most_common(1)[0][0] if draft.descriptions else code
        price = Decimal(statistics.median(draft.prices)).quantize(Decimal("0.001"))
        profile = existing.get(code)
        if profile is None:
            profile = ItemProfile(
                product_id=next_id,
                external_ref=code,
                name=name[:250],
                price_amount=price,
                currency=EXPORT_CURRENCY,
                created_at=draft.first_seen,
            )
            next_id += 1
            to_create.append(profile)
            existing[code] = profile
        elif (profile.name, profile.price_amount, profile.currency) != (
            name[:250],
            price,
            EXPORT_CURRENCY,
        ):
            profile.name, profile.price_amount, profile.currency = (
                name[:250],
                price,
                EXPORT_CURRENCY,
            )
            profile.updated_at = timezone.now()
            to_update.append(profile)
    ItemProfile.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    ItemProfile.objects.bulk_update(
        to_update, ["name", "price_amount", "currency", "updated_at"], batch_size=BATCH_SIZE
    )
    ItemChannel.objects.bulk_create(
        [
            ItemChannel(
                item_id=profile.product_id,
                channel=channel,
                price_amount=profile.price_amount,
                currency=profile.currency,
            )
            for profile in existing.values()
        ],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    report.items_created, report.items_updated = len(to_create), len(to_update)
    return {code: profile.product_id for code, profile in existing.items()}


def _write_customers(customer_countries: dict[int, Counter], report: ImportReport) -> None:
    existing = {
        profile.customer_id: profile
        for ids in _chunks(list(customer_countries), BATCH_SIZE)
        for profile in CustomerProfile.objects.filter(customer_id__in=ids)
    }
    to_create, to_update = [], []
    for customer_id, countries in customer_countries.items():
        code = country_code(countries.most_common(1)[0][0])
        profile = existing.get(customer_id)
        if profile is None:
            to_create.append(CustomerProfile(customer_id=customer_id, country=code))
        elif profile.country != code:
            profile.country = code
            profile.updated_at = timezone.now()
            to_update.append(profile)
    CustomerProfile.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    CustomerProfile.objects.bulk_update(to_update, ["country", "updated_at"], batch_size=BATCH_SIZE)
    report.customers_created, report.customers_updated = len(to_create), len(to_update)


def _write_purchases(
    purchases: dict[tuple[str, str], _PurchaseDraft],
    product_ids: dict[str, int],
    channel: str,
    source: str,
    report: ImportReport,
) -> None:
    before = Interaction.objects.count()
    rows = [
        Interaction(
            customer_id=draft.customer_id,
            product_id=product_ids[draft.stock_code],
            channel=channel,
            kind=InteractionKind.PURCHASE,
            quantity=draft.quantity,
            unit_price=draft.unit_price,
            currency=EXPORT_CURRENCY,
            basket_ref=draft.invoice,
            occurred_at=draft.occurred_at,
            source_key=f"{source}:{draft.invoice}:{draft.stock_code}",
        )
        for draft in purchases.values()
    ]
    for batch in _chunks(rows, BATCH_SIZE):
        Interaction.objects.bulk_create(batch, ignore_conflicts=True)
    report.interactions_created = Interaction.objects.count() - before
    report.interactions_existing = len(rows) - report.interactions_created
