from django.core.management.base import BaseCommand

from ...models import Segment
from ...segments.compute import compute_segments
from ...segments.learned import compute_learned_segments
from ...segments.rules import SegmentRules
from ...shop import get_shop
from ..arguments import day


class Command(BaseCommand):
    # Django's system checks import Saleor's URL conf and so its whole GraphQL schema:
    # seconds at every start. They belong to the deployment (`manage.py check`).
    requires_system_checks: list[str] = []
    help = "Recompute customer segments and print their sizes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            type=day,
            default=None,
            help="date the segments describe (YYYY-MM-DD; default now)",
        )

    def handle(self, *args, as_of, **options):
        when = as_of
        config, _ = get_shop().configuration.load()
        rules = SegmentRules(
            lapse_days=config.lapse_days, abandoner_min_carts=config.abandoner_min_carts
        )
        report = compute_segments(as_of=when, rules=rules)
        names = dict(Segment.objects.values_list("key", "name"))
        for key, size in sorted(report.sizes.items(), key=lambda kv: (-kv[1], kv[0])):
            self.stdout.write(f"{names.get(key, key):<36} {size:>8,}")
        self.stdout.write(f"entered {report.entered:,}, left {report.left:,}")
        learned = compute_learned_segments(as_of=when)
        self.stdout.write("\nLearned segments: " + "\n".join(learned.summary()))
