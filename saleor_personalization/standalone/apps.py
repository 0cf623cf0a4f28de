from django.apps import AppConfig


class StandaloneAppConfig(AppConfig):
    """The standalone front end: its own commands (demo, load, serve, token).

    Installed only by the standalone settings, so these commands do not exist inside
    Saleor, where the shop's data comes from Saleor and the API from the plugin's URL.
    """

    name = "saleor_personalization.standalone"
    label = "personalization_standalone"
    verbose_name = "Personalization (standalone)"
