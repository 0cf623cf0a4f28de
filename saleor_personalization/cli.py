"""The ``saleor-personalization`` console script.

It runs the package's management commands under short names (``demo``, ``train``,
``send-abandoned``) and passes anything else to Django (``migrate``, ``shell``).
Without ``DJANGO_SETTINGS_MODULE`` it uses the standalone settings; inside Saleor set
``DJANGO_SETTINGS_MODULE=saleor.settings`` (or use Saleor's ``manage.py`` with the
``personalization_*`` command names).
"""

import os
import sys

STANDALONE_SETTINGS = "saleor_personalization.standalone.settings"

# Short name on the console script -> management command of this package. Commands are
# prefixed so they never shadow a Saleor command of the same name in manage.py.
COMMANDS = {
    "backfill": "personalization_backfill",
    "demo": "personalization_demo",
    "evaluate": "personalization_evaluate",
    "load": "personalization_load",
    "offers": "personalization_offers",
    "pin": "personalization_pin",
    "rollback": "personalization_rollback",
    "score": "personalization_score",
    "segment": "personalization_segment",
    "send-abandoned": "personalization_send_abandoned",
    "serve": "personalization_serve",
    "token": "personalization_token",
    "train": "personalization_train",
}

# Commands of the standalone front end (``saleor_personalization.standalone``'s own app):
# inside Saleor the data comes from the shop and the API from the plugin's URL.
STANDALONE_ONLY = {"demo", "load", "serve", "token"}

USAGE = """usage: saleor-personalization <command> [options]

commands:
{commands}
  <django command>   any other Django management command, e.g. migrate

Run 'saleor-personalization <command> --help' for a command's options."""


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}   -> manage.py {target}" for name, target in COMMANDS.items()]
    return USAGE.format(commands="\n".join(lines))


def _prepare_standalone_database() -> None:
    """Standalone, the embedded database may not exist yet: create and migrate it.

    Inside Saleor, migrations are the shop's deployment step and never run from here.
    """
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        from pathlib import Path

        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0 if argv else 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", STANDALONE_SETTINGS)
    if os.environ["DJANGO_SETTINGS_MODULE"] == STANDALONE_SETTINGS:
        # Bind shared tasks to the standalone Celery app before Django loads the apps.
        import saleor_personalization.standalone.celery  # noqa: F401

    from django.core.management import execute_from_command_line

    command = COMMANDS.get(argv[0], argv[0])
    standalone = os.environ["DJANGO_SETTINGS_MODULE"] == STANDALONE_SETTINGS
    if not standalone and argv[0] in STANDALONE_ONLY:
        print(
            f"'{argv[0]}' belongs to the standalone server (run it without "
            "DJANGO_SETTINGS_MODULE). Inside Saleor the API is at "
            "/plugins/global/saleor.personalization/graphql/ and the data comes from the shop "
            "('backfill').",
            file=sys.stderr,
        )
        return 2
    if standalone and command in COMMANDS.values() and "--help" not in argv[1:]:
        _prepare_standalone_database()
    try:
        execute_from_command_line(["saleor-personalization", command, *argv[1:]])
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
