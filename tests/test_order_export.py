"""Reading and cleaning the order export; no database needed."""

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from saleor_personalization.standalone.order_export import (
    CleaningReport,
    OrderExportError,
    clean_order_lines,
    country_code,
    read_order_export,
)


def test_full_dataset_counts_match_its_readme(online_retail_path):
    report = CleaningReport()
    invoices, codes, customers, countries = set(), set(), set(), set()
    cancellation_rows = 0
    lines = []
    for line in read_order_export(online_retail_path, report=report):
        invoices.add(line.invoice)
        codes.add(line.stock_code)
        countries.add(line.country)
        if line.customer_id is not None:
            customers.add(line.customer_id)
        cancellation_rows += line.is_cancellation
        lines.append(line)

    # Counts stated in data/online_retail/README.md.
    assert report.rows_read == 541_909
    assert len(invoices) == 25_900
    assert len(codes) == 4_070
    assert len(customers) == 4_372
    assert len(countries) == 38
    assert cancellation_rows == 9_288

    kept = list(clean_order_lines(iter(lines), report))
    assert report.cancellations == 9_288
    assert len(kept) == report.kept == 396_337
    # "About 397,900 rows" after the README's rules; the non-product codes it lists
    # account for the 1,547 rows between that figure and ours.
    assert report.non_product == 1_547
    assert abs(report.kept + report.non_product - 397_900) < 100
    assert all(line.customer_id and line.quantity > 0 and line.unit_price > 0 for line in kept)
    assert not any(line.stock_code.startswith("gift_") for line in kept)


def test_every_country_in_the_dataset_has_a_mapping(online_retail_path):
    from saleor_personalization.standalone.order_export import COUNTRY_CODES

    countries = Counter(line.country for line in read_order_export(online_retail_path))
    assert set(countries) <= set(COUNTRY_CODES)
    assert country_code("United Kingdom") == "GB"
    assert country_code("EIRE") == "IE"
    assert country_code("RSA") == "ZA"
    assert country_code("de") == "DE"
    assert country_code("Unspecified") == ""


def test_parses_a_line(write_csv):
    path = write_csv(["536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,France"])
    (line,) = read_order_export(path)
    assert line.invoice == "536365"
    assert line.quantity == 6
    assert line.unit_price == Decimal("2.55")
    assert line.customer_id == 17850
    assert line.invoiced_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)


def test_customer_id_written_as_float_is_accepted(write_csv):
    path = write_csv(["536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,17850.0,France"])
    (line,) = read_order_export(path)
    assert line.customer_id == 17850


def test_gzipped_export_is_read(online_retail_path):
    first = next(iter(read_order_export(online_retail_path)))
    assert first.stock_code == "85123A"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(OrderExportError, match="no such file"):
        list(read_order_export(tmp_path / "nope.csv"))


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(OrderExportError, match="empty"):
        list(read_order_export(path))


def test_wrong_columns_name_what_is_missing(write_csv):
    path = write_csv(["1,2,3"], header="InvoiceNo,StockCode,Price")
    with pytest.raises(OrderExportError) as error:
        list(read_order_export(path))
    message = str(error.value)
    assert "wrong columns" in message
    assert "missing Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country" in message
    assert "unexpected Price" in message


def test_reordered_columns_are_refused(write_csv):
    header = "StockCode,InvoiceNo,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    path = write_csv([], header=header)
    with pytest.raises(OrderExportError, match="columns out of order"):
        list(read_order_export(path))


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("536365,85123A,HEART,six,2010-12-01 08:26:00,2.55,17850,France", "Quantity 'six'"),
        ("536365,85123A,HEART,6,yesterday,2.55,17850,France", "InvoiceDate 'yesterday'"),
        ("536365,85123A,HEART,6,2010-12-01 08:26:00,cheap,17850,France", "UnitPrice 'cheap'"),
        ("536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,abc,France", "CustomerID 'abc'"),
        ("536365,85123A,HEART,6,2010-12-01 08:26:00,2.55,-3,France", "CustomerID '-3'"),
        ("536365,85123A,HEART,6", "expected 8 fields, found 4"),
        (",85123A,HEART,6,2010-12-01 08:26:00,2.55,17850,France", "InvoiceNo is empty"),
    ],
)
def test_malformed_row_names_its_line(write_csv, row, problem):
    good = "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,France"
    path = write_csv([good, row])
    with pytest.raises(OrderExportError) as error:
        list(read_order_export(path))
    assert f"line 3: {problem}" in str(error.value)


def test_skip_invalid_keeps_going_and_reports(write_csv):
    path = write_csv(
        [
            "536365,85123A,HEART,six,2010-12-01 08:26:00,2.55,17850,France",
            "536365,71053,LANTERN,6,2010-12-01 08:26:00,3.39,17850,France",
        ]
    )
    report = CleaningReport()
    lines = list(read_order_export(path, report=report, skip_invalid=True))
    assert [line.stock_code for line in lines] == ["71053"]
    assert len(report.skipped_invalid) == 1
    assert "line 2" in report.skipped_invalid[0]


def test_cleaning_rules_each_count_what_they_drop(write_csv):
    path = write_csv(
        [
            "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom",
            "536414,22139,RETROSPOT TEA SET,56,2010-12-01 11:52:00,0.00,,United Kingdom",
            "536415,22140,TEA SET,0,2010-12-01 11:52:00,1.00,14527,United Kingdom",
            "536416,POST,POSTAGE,3,2010-12-01 11:52:00,18.00,12583,France",
            "536417,gift_0001_40,Gift Voucher,1,2010-12-01 11:52:00,34.04,12583,France",
            "536418,22141,TEA CUP,2,2010-12-01 11:52:00,1.25,12583,France",
        ]
    )
    report = CleaningReport()
    kept = list(clean_order_lines(read_order_export(path, report=report), report))
    assert [line.stock_code for line in kept] == ["22141"]
    assert (report.cancellations, report.guest_rows, report.non_positive, report.non_product) == (
        1,
        1,
        1,
        2,
    )
