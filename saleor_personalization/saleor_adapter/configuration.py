"""Read the plugin's configuration outside a request (Celery tasks, commands)."""

from ..configuration import PersonalizationConfig, parse_configuration

PLUGIN_ID = "saleor.personalization"


def load_configuration() -> tuple[PersonalizationConfig, bool]:
    """The plugin's settings and whether it is active.

    Inside Saleor they come from the ``PluginConfiguration`` row (defaults when the
    admin never saved the form, and then the plugin is inactive as Saleor treats it);
    standalone there is no Dashboard: ``settings.PERSONALIZATION_CONFIGURATION`` (a dict,
    from the ``PERSONALIZATION_CONFIGURATION`` environment variable as JSON) overrides
    the defaults, and the plugin counts as active.
    """
    try:
        from saleor.plugins.models import PluginConfiguration
    except ImportError:
        from django.conf import settings

        return parse_configuration(getattr(settings, "PERSONALIZATION_CONFIGURATION", {})), True
    from .db import replica_name

    row = (
        PluginConfiguration.objects.using(replica_name())
        .filter(identifier=PLUGIN_ID, channel__isnull=True)
        .values("active", "configuration")
        .first()
    )
    if row is None:
        return parse_configuration({}), False
    return parse_configuration(row["configuration"] or []), row["active"]
