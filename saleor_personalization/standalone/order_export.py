"""Read and clean an order export with the Online Retail columns.

The UCI Online Retail file (``data/online_retail/`` in the repository) is the reference
export; any CSV (optionally gzipped) with the same columns works. Reading is strict:
a missing file, a wrong header or a malformed row is reported with its line number,
because a silently skipped row is lost data the merchant never hears about.
"""

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

# Postage, fees, manual adjustments and samples: lines that are not products.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "S", "B"}
)
NON_PRODUCT_PREFIXES = ("gift_",)

# The export names countries in English; profiles store ISO 3166-1 alpha-2 codes, as
# Saleor's addresses do. Regions with no single code stay empty.
COUNTRY_CODES = {
    "Australia": "AU",
    "Austria": "AT",
    "Bahrain": "BH",
    "Belgium": "BE",
    "Brazil": "BR",
    "Canada": "CA",
    "Channel Islands": "",
    "Cyprus": "CY",
    "Czech Republic": "CZ",
    "Denmark": "DK",
    "EIRE": "IE",
    "European Community": "",
    "Finland": "FI",
    "France": "FR",
    "Germany": "DE",
    "Greece": "GR",
    "Hong Kong": "HK",
    "Iceland": "IS",
    "Israel": "IL",
    "Italy": "IT",
    "Japan": "JP",
    "Lebanon": "LB",
    "Lithuania": "LT",
    "Malta": "MT",
    "Netherlands": "NL",
    "Norway": "NO",
    "Poland": "PL",
    "Portugal": "PT",
    "RSA": "ZA",
    "Saudi Arabia": "SA",
    "Singapore": "SG",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "United Arab Emirates": "AE",
    "United Kingdom": "GB",
    "Unspecified": "",
    "USA": "US",
}

DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M")


class OrderExportError(Exception):
    """The export cannot be read as given; the message says where and why."""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One parsed line of the export."""

    invoice: str
    stock_code: str
    description: str
    quantity: int
    invoiced_at: datetime
    unit_price: Decimal
    customer_id: int | None
    country: str

    @property
    def is_cancellation(self) -> bool:
        return self.invoice.upper().startswith("C")

    @property
    def is_product(self) -> bool:
        return self.stock_code not in NON_PRODUCT_CODES and not self.stock_code.startswith(
            NON_PRODUCT_PREFIXES
        )


@dataclass
class CleaningReport:
    """How many lines each cleaning rule removed, in the order the rules apply."""

    rows_read: int = 0
    cancellations: int = 0
    guest_rows: int = 0
    non_positive: int = 0
    non_product: int = 0
    kept: int = 0
    skipped_invalid: list[str] = field(default_factory=list)

    def as_rows(self) -> list[tuple[str, int]]:
        return [
            ("rows read", self.rows_read),
            ("cancellations dropped", self.cancellations),
            ("guest rows dropped", self.guest_rows),
            ("non-positive quantity or price dropped", self.non_positive),
            ("non-product codes dropped", self.non_product),
            ("malformed rows skipped", len(self.skipped_invalid)),
            ("rows kept", self.kept),
        ]


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _parse_datetime(value: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"InvoiceDate {value!r} is not a date like 2011-12-09 12:50:00")


def _parse_row(row: list[str]) -> OrderLine:
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} fields, found {len(row)}")
    invoice, stock_code, description, quantity, invoiced_at, unit_price, customer, country = (
        value.strip() for value in row
    )
    if not invoice:
        raise ValueError("InvoiceNo is empty")
    if not stock_code:
        raise ValueError("StockCode is empty")
    try:
        parsed_quantity = int(quantity)
    except ValueError:
        raise ValueError(f"Quantity {quantity!r} is not a whole number") from None
    try:
        parsed_price = Decimal(unit_price)
    except InvalidOperation:
        raise ValueError(f"UnitPrice {unit_price!r} is not a number") from None
    if not parsed_price.is_finite():
        raise ValueError(f"UnitPrice {unit_price!r} is not a finite number")
    customer_id: int | None = None
    if customer:
        try:
            as_float = float(customer)
        except ValueError:
            raise ValueError(f"CustomerID {customer!r} is not a number") from None
        if not as_float.is_integer() or as_float <= 0:
            raise ValueError(f"CustomerID {customer!r} is not a positive whole number")
        customer_id = int(as_float)
    return OrderLine(
        invoice=invoice,
        stock_code=stock_code,
        description=description,
        quantity=parsed_quantity,
        invoiced_at=_parse_datetime(invoiced_at),
        unit_price=parsed_price,
        customer_id=customer_id,
        country=country,
    )


def read_order_export(
    path: str | Path, *, report: CleaningReport | None = None, skip_invalid: bool = False
) -> Iterator[OrderLine]:
    """Yield every parsed line of the export, cancellations and guests included.

    With ``skip_invalid`` a malformed row is recorded in ``report.skipped_invalid`` and
    skipped; otherwise it raises :class:`OrderExportError` naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise OrderExportError(f"{path}: no such file")
    report = report if report is not None else CleaningReport()
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise OrderExportError(f"{path}: the file is empty")
            header = [name.strip().lstrip("\ufeff") for name in header]
            if tuple(header) != COLUMNS:
                missing = [c for c in COLUMNS if c not in header]
                unexpected = [c for c in header if c not in COLUMNS]
                details = []
                if missing:
                    details.append(f"missing {', '.join(missing)}")
                if unexpected:
                    details.append(f"unexpected {', '.join(unexpected)}")
                if not details:
                    details.append("columns out of order")
                raise OrderExportError(
                    f"{path}: wrong columns ({'; '.join(details)}); expected {','.join(COLUMNS)}"
                )
            for row in reader:
                if not row:
                    continue
                report.rows_read += 1
                try:
                    yield _parse_row(row)
                except ValueError as exc:
                    message = f"{path}, line {reader.line_num}: {exc}"
                    if not skip_invalid:
                        raise OrderExportError(message) from None
                    report.skipped_invalid.append(message)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise OrderExportError(f"{path}: cannot be read ({exc})") from exc


def clean_order_lines(lines: Iterator[OrderLine], report: CleaningReport) -> Iterator[OrderLine]:
    """Apply the dataset README's cleaning rules, counting what each one removes."""
    for line in lines:
        if line.is_cancellation:
            report.cancellations += 1
        elif line.customer_id is None:
            report.guest_rows += 1
        elif line.quantity <= 0 or line.unit_price <= 0:
            report.non_positive += 1
        elif not line.is_product:
            report.non_product += 1
        else:
            report.kept += 1
            yield line


def country_code(name: str) -> str:
    """ISO code for a country as the export names it; a two-letter code passes through."""
    if len(name) == 2 and name.isalpha():
        return name.upper()
    return COUNTRY_CODES.get(name, "")
