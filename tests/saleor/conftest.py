"""Fixtures for tests inside Saleor. Nothing here imports Saleor at import time."""

import pytest

from .requirements import saleor_unavailable_reason

PLUGIN_PATH = "saleor_personalization.saleor_adapter.plugin.PersonalizationPlugin"

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
        """Set one saved setting, by its Dashboard name or its 0.1 (attribute) name."""
        from saleor_personalization.configuration import LEGACY_NAMES

        def set_value(name, value):
            name = LEGACY_NAMES.get(name, name)
            for item in personalization_config.configuration:
                if item["name"] == name:
                    item["value"] = value
                    break
            else:
                raise KeyError(f"no setting {name!r} in the saved configuration")
            personalization_config.save(update_fields=["configuration"])

        return set_value

    @pytest.fixture
    def app_webhook(settings):
        """A real app webhook: Saleor posts to an HTTP server on loopback that keeps it all.

        ``subscribe(event_type, permission)`` installs the app and returns the list of
        JSON bodies received so far (filled as Saleor delivers).
        """
        import http.server
        import json
        import threading

        from saleor.app.models import App
        from saleor.webhook.models import Webhook, WebhookEvent

        received: list = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()

        def subscribe(event_type, permission) -> list:
            settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
            app = App.objects.create(name="Receiver", is_active=True)
            app.permissions.add(permission)
            webhook = Webhook.objects.create(
                app=app,
                name="receiver",
                target_url=f"http://127.0.0.1:{server.server_address[1]}/",
                is_active=True,
            )
            WebhookEvent.objects.create(webhook=webhook, event_type=event_type)
            return received

        yield subscribe
        server.shutdown()
