from django.core.management.base import BaseCommand, CommandError

from ...services.backfill import backfill
from ...shop import ShopCapabilityMissing
from ..arguments import day


class Command(BaseCommand):
    help = (
        "Read Saleor's catalogue, customers, orders and open checkouts into the plugin's "
        "tables, in bounded batches. Safe to repeat: nothing is recorded twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=day,
            default=None,
            help="only orders placed on or after this date (YYYY-MM-DD)",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, since, batch_size, **options):
        if batch_size < 1 or batch_size > 10_000:
            raise CommandError("--batch-size must be between 1 and 10000")
        try:
            report = backfill(since=since, batch_size=batch_size, progress=self.stdout.write)
        except ShopCapabilityMissing as exc:
            raise CommandError(
                "backfill reads Saleor's tables: run it in Saleor's environment, e.g. "
                "DJANGO_SETTINGS_MODULE=saleor.settings saleor-personalization backfill "
                f"({exc})"
            ) from None
        for label, value in report.as_rows():
            self.stdout.write(f"{label:<30} {value:>10,}")
