from django.core.management.base import BaseCommand

from ...services.scoring import score_all


class Command(BaseCommand):
    # Django's system checks import Saleor's URL conf and so its whole GraphQL schema:
    # seconds at every start. They belong to the deployment (`manage.py check`).
    requires_system_checks: list[str] = []
    help = (
        "Precompute every list from the live model (popularity and trending without one), "
        "in this process, with the list length and recent-purchase rule of the settings."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--changed-only",
            action="store_true",
            help="personal lists only for customers whose data changed since their list",
        )

    def handle(self, *args, changed_only, **options):
        written = score_all(changed_only=changed_only, inline=True)
        self.stdout.write("lists written: " + ", ".join(f"{k} {v}" for k, v in written.items()))
