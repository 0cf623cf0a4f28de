from django.core.management.base import BaseCommand

from ...recommender.pipeline import score_lists


class Command(BaseCommand):
    # Django's system checks import Saleor's URL conf and so its whole GraphQL schema:
    # seconds at every start. They belong to the deployment (`manage.py check`).
    requires_system_checks: list[str] = []
    help = "Precompute every list from the live model (popularity and trending without one)."

    def handle(self, *args, **options):
        written = score_lists()
        self.stdout.write("lists written: " + ", ".join(f"{k} {v}" for k, v in written.items()))
