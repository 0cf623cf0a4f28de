"""Loading an export into the feature store: counts, idempotency, atomicity."""

from collections import defaultdict
from decimal import Decimal

import pytest

from saleor_personalization.models import (
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemChannel,
    ItemProfile,
)
from saleor_personalization.standalone.importer import import_order_export
from saleor_personalization.standalone.order_export import (
    CleaningReport,
    OrderExportError,
    clean_order_lines,
    read_order_export,
)

pytestmark = pytest.mark.django_db

CHANNEL = "default-channel"


def _expected(path):
    """Hand-rolled expectations from the cleaned lines, independent of the importer."""
    report = CleaningReport()
    lines = list(clean_order_lines(read_order_export(path, report=report), report))
    pairs = {(line.invoice, line.stock_code) for line in lines}
    spend = defaultdict(Decimal)
    invoices = defaultdict(set)
    for line in lines:
        spend[line.customer_id] += line.quantity * line.unit_price
        invoices[line.customer_id].add(line.invoice)
    return lines, pairs, spend, invoices


def test_sample_loads_with_counts_matching_the_cleaned_lines(online_retail_sample):
    lines, pairs, spend, invoices = _expected(online_retail_sample)

    report = import_order_export(online_retail_sample, channel=CHANNEL, source="sample")

    assert report.interactions_created == len(pairs) == Interaction.objects.count()
    assert report.items_created == len({line.stock_code for line in lines})
    assert ItemProfile.objects.count() == report.items_created
    assert ItemChannel.objects.filter(channel=CHANNEL).count() == report.items_created
    assert CustomerProfile.objects.count() == len(spend)
    assert set(Interaction.objects.values_list("kind", flat=True)) == {InteractionKind.PURCHASE}

    customer_id = max(spend, key=lambda c: len(invoices[c]))
    profile = CustomerProfile.objects.get(customer_id=customer_id)
    assert profile.orders_count == len(invoices[customer_id])
    assert profile.total_spent == spend[customer_id].quantize(Decimal("0.001"))
    assert profile.currency == "GBP"
    assert profile.country == "GB"
    assert profile.last_order_at == max(
        line.invoiced_at for line in lines if line.customer_id == customer_id
    )


def test_loading_twice_changes_nothing(online_retail_sample):
    import_order_export(online_retail_sample, channel=CHANNEL, source="sample")
    snapshot = {
        "items": list(ItemProfile.objects.order_by("pk").values()),
        "customers": list(CustomerProfile.objects.order_by("pk").values()),
        "interactions": list(Interaction.objects.order_by("pk").values()),
        "channels": list(ItemChannel.objects.order_by("pk").values()),
    }

    report = import_order_export(online_retail_sample, channel=CHANNEL, source="sample")

    assert report.interactions_created == 0
    assert report.interactions_existing == len(snapshot["interactions"])
    assert (report.items_created, report.items_updated) == (0, 0)
    assert (report.customers_created, report.customers_updated) == (0, 0)
    assert list(ItemProfile.objects.order_by("pk").values()) == snapshot["items"]
    assert list(CustomerProfile.objects.order_by("pk").values()) == snapshot["customers"]
    assert list(Interaction.objects.order_by("pk").values()) == snapshot["interactions"]
    assert list(ItemChannel.objects.order_by("pk").values()) == snapshot["channels"]


def test_same_product_twice_on_an_invoice_is_one_purchase(write_csv):
    path = write_csv(
        [
            "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
            "536365,85123A,HEART,2,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        ]
    )
    import_order_export(path, channel=CHANNEL)
    (event,) = Interaction.objects.all()
    assert event.quantity == 8
    assert event.basket_ref == "536365"
    assert CustomerProfile.objects.get(customer_id=17850).total_spent == Decimal("20.400")


def test_a_later_export_extends_profiles_and_reuses_product_ids(write_csv, tmp_path):
    first = write_csv(
        ["536365,85123A,HEART,1,2010-12-01 08:26:00,2.00,17850,United Kingdom"], name="a.csv"
    )
    second = write_csv(
        [
            "536999,85123A,HEART,2,2011-01-05 10:00:00,2.00,17850,United Kingdom",
            "536999,71053,LANTERN,1,2011-01-05 10:00:00,3.00,17850,United Kingdom",
        ],
        name="b.csv",
    )
    import_order_export(first, channel=CHANNEL)
    heart_id = ItemProfile.objects.get(external_ref="85123A").product_id
    report = import_order_export(second, channel=CHANNEL)

    assert report.items_created == 1
    assert ItemProfile.objects.get(external_ref="85123A").product_id == heart_id
    profile = CustomerProfile.objects.get(customer_id=17850)
    assert profile.orders_count == 2
    assert profile.total_spent == Decimal("9.000")
    assert profile.first_seen_at.year == 2010
    assert profile.last_order_at.year == 2011


def test_malformed_row_loads_nothing(write_csv):
    path = write_csv(
        [
            "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
            "536366,71053,LANTERN,lots,2010-12-01 08:26:00,3.39,17850,United Kingdom",
        ]
    )
    with pytest.raises(OrderExportError, match="line 3: Quantity 'lots'"):
        import_order_export(path, channel=CHANNEL)
    assert not Interaction.objects.exists()
    assert not ItemProfile.objects.exists()
    assert not CustomerProfile.objects.exists()


def test_skip_invalid_loads_the_good_rows(write_csv):
    path = write_csv(
        [
            "536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
            "536366,71053,LANTERN,lots,2010-12-01 08:26:00,3.39,17850,United Kingdom",
        ]
    )
    report = import_order_export(path, channel=CHANNEL, skip_invalid=True)
    assert report.interactions_created == 1
    assert len(report.cleaning.skipped_invalid) == 1
