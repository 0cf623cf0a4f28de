"""Fixtures for tests inside Saleor. Nothing here imports Saleor at import time."""

import pytest

from .requirements import saleor_unavailable_reason

PLUGIN_PATH = "saleor_personalization.plugin.PersonalizationPlugin"

if saleor_unavailable_reason() is None:

    @pytest.fixture(autouse=True)
    def personalization_installed(setup_dummy_gateways, settings):
        """Saleor's autouse gateway fixture resets PLUGINS for every test; add ours back."""
        settings.PLUGINS = [*settings.PLUGINS, PLUGIN_PATH]
        return settings

    @pytest.fixture
    def personalization_config():
        """Activate the plugin with its defaults (as an admin saving the form would)."""
        from saleor.plugins.models import PluginConfiguration

        from saleor_personalization.configuration import default_configuration
        from saleor_personalization.saleor_adapter.configuration import PLUGIN_ID

        config, _ = PluginConfiguration.objects.update_or_create(
            identifier=PLUGIN_ID,
            channel=None,
            defaults={"active": True, "configuration": default_configuration()},
        )
        return config

    @pytest.fixture
    def set_plugin_setting(personalization_config):
        def set_value(name, value):
            for item in personalization_config.configuration:
                if item["name"] == name:
                    item["value"] = value
            personalization_config.save(update_fields=["configuration"])

        return set_value
