from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the personalization GraphQL API with GraphiQL at /graphql/ (the standalone "
        "server; inside Saleor the API is served by the plugin's own URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-migrate", action="store_true", help="do not apply migrations")

    def handle(self, *args, addrport, no_migrate, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"GraphiQL: http://{addrport}/graphql/  (Ctrl+C to stop)")
        call_command("runserver", addrport, use_reloader=False, skip_checks=True)
