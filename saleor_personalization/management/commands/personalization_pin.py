from django.core.management.base import BaseCommand, CommandError

from ...models import ModelRun
from ...services.training import pin


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Keep a model run's model file whatever PERSONALIZATION_KEEP_MODEL_RUNS says "
        "(--unpin to let retention delete it again); without a run, list the kept files."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", type=int, nargs="?", default=None, help="model run id")
        parser.add_argument("--unpin", action="store_true", help="stop keeping it")

    def handle(self, *args, run, unpin, **options):
        if run is None:
            for found in ModelRun.objects.exclude(artifact="").order_by("-created_at", "-pk"):
                marks = [m for m, on in (("live", found.is_live), ("pinned", found.pinned)) if on]
                self.stdout.write(f"run {found.pk:<6} {found.status:<10} {' '.join(marks)}")
            return
        try:
            found = pin(run, pinned=not unpin)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        state = "pinned: its model file is kept" if found.pinned else "no longer pinned"
        self.stdout.write(f"model run {found.pk} {state}")
