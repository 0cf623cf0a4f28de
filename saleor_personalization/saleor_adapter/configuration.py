"""Read the plugin's configuration outside a request (Celery tasks, commands)."""

import logging

from ..configuration import ConfigurationError, PersonalizationConfig, parse_configuration

logger = logging.getLogger(__name__)

PLUGIN_ID = "saleor.personalization"


def load_configuration() -> tuple[PersonalizationConfig, bool]:
    """The plugin's settings and whether it is active.

    They come from the ``PluginConfiguration`` row (defaults when the admin never saved
    the form, and then the plugin is inactive as Saleor treats it).
    """
    from saleor.plugins.models import PluginConfiguration

    from .db import replica_name

    row = (
        PluginConfiguration.objects.using(replica_name())
        .filter(identifier=PLUGIN_ID, channel__isnull=True)
        .values("active", "configuration")
        .first()
    )
    if row is None:
        return parse_configuration({}), False
    try:
        return parse_configuration(row["configuration"] or []), row["active"]
    except ConfigurationError:
        # As the plugin instance does (``PersonalizationPlugin.config``): the shop keeps
        # working on defaults while the admin corrects the form.
        logger.exception("Invalid personalization configuration; using defaults")
        return parse_configuration({}), row["active"]
