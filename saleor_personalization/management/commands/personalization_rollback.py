from django.core.management.base import BaseCommand, CommandError

from ...recommender.artifact import ArtifactError
from ...services.scoring import score_all
from ...services.training import rollback


class Command(BaseCommand):
    # Django's system checks import Saleor's URL conf and so its whole GraphQL schema:
    # seconds at every start. They belong to the deployment (`manage.py check`).
    requires_system_checks: list[str] = []
    help = "Put an earlier model run back live (default: the one live before the current)."

    def add_arguments(self, parser):
        parser.add_argument("--to", dest="to_run", type=int, default=None, help="model run id")
        parser.add_argument("--no-score", action="store_true", help="do not rescore lists")

    def handle(self, *args, to_run, no_score, **options):
        try:
            run = rollback(to_run, rescore=False)
        except (ValueError, ArtifactError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"model run {run.pk} is live again")
        if not no_score:
            written = score_all(run_id=run.pk, inline=True)
            self.stdout.write("lists written: " + ", ".join(f"{k} {v}" for k, v in written.items()))
