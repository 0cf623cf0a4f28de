from django.core.management.base import BaseCommand, CommandError

from ...graphql_backend import TOKEN_MAX_AGE, issue_token


class Command(BaseCommand):
    help = (
        "Print a signed token for the standalone GraphQL server, valid for 7 days: "
        "a customer's (--customer ID) or a staff token (--staff). Send it as "
        "'Authorization: Bearer <token>'. Inside Saleor use Saleor's tokenCreate."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--customer", type=int, help="customer id")
        who.add_argument("--staff", action="store_true", help="staff (model runs, train)")

    def handle(self, *args, customer, staff, **options):
        if customer is not None and customer <= 0:
            raise CommandError("--customer takes a positive customer id")
        self.stdout.write(issue_token(customer_id=customer, staff=staff))
        self.stderr.write(f"valid for {TOKEN_MAX_AGE // 86400} days")
