from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ....conf import get_settings
from ...importer import import_order_export
from ...order_export import OrderExportError


class Command(BaseCommand):
    help = (
        "Load an order export with the Online Retail columns (CSV, optionally .gz) into the "
        "feature store and the interaction log. Loading the same file twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="CSV or CSV.GZ order export")
        parser.add_argument("--channel", default=None, help="channel slug the orders belong to")
        parser.add_argument(
            "--source",
            default="order-export",
            help="name of this export; part of every event's idempotency key",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="skip malformed rows (listed at the end) instead of stopping at the first",
        )

    def handle(self, *args, path: Path, channel, source, skip_invalid, **options):
        channel = channel or get_settings().default_channel
        try:
            report = import_order_export(
                path, channel=channel, source=source, skip_invalid=skip_invalid
            )
        except OrderExportError as exc:
            raise CommandError(f"{exc}. Nothing was loaded.") from None
        for label, value in report.cleaning.as_rows() + report.as_rows():
            self.stdout.write(f"{label:<40} {value:>9,}")
        for message in report.cleaning.skipped_invalid[:20]:
            self.stderr.write(f"skipped: {message}")
