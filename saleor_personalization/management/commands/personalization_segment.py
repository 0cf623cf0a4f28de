from django.core.management.base import BaseCommand

from ...models import Segment
from ...services.segments import refresh_segments
from ..arguments import day


class Command(BaseCommand):
    # Django's system checks import Saleor's URL conf and so its whole GraphQL schema:
    # seconds at every start. They belong to the deployment (`manage.py check`).
    requires_system_checks: list[str] = []
    help = (
        "Recompute customer segments and print their sizes; like the daily task, mirror "
        "memberships on the shop's customers and issue offers to new members."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            type=day,
            default=None,
            help="date the segments describe (YYYY-MM-DD; default now)",
        )

    def handle(self, *args, as_of, **options):
        refresh = refresh_segments(as_of, offers_inline=True)
        names = dict(Segment.objects.values_list("key", "name"))
        for key, size in sorted(refresh.sizes.items(), key=lambda kv: (-kv[1], kv[0])):
            self.stdout.write(f"{names.get(key, key):<36} {size:>8,}")
        self.stdout.write(f"entered {refresh.entered:,}, left {refresh.left:,}")
        if refresh.learned is not None:
            self.stdout.write("\nLearned segments: " + "\n".join(refresh.learned.summary()))
        else:
            self.stdout.write("\nLearned segments failed; see the log.")
        self.stdout.write(
            f"\nmemberships written to the shop's customers: {refresh.metadata_written:,}"
        )
        offers = refresh.offers
        if offers is None:
            return
        if offers.skipped_reason:
            self.stdout.write(f"offers not issued: {offers.skipped_reason}")
            return
        issued = sum(offers.issued.values())
        self.stdout.write(
            f"offers issued: {issued:,} in {len(offers.issued):,} campaigns, "
            f"{sum(offers.held_out.values()):,} held out"
        )
