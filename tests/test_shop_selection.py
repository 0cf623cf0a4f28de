"""The shop is chosen once, from settings, never by probing for an importable Saleor."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from saleor_personalization import shop
from saleor_personalization.shop import (
    STANDALONE_SHOP,
    default_shop,
    get_shop,
    select_shop,
    shop_path,
)


def test_standalone_settings_select_the_standalone_shop():
    assert shop_path() == STANDALONE_SHOP
    assert get_shop().name == "standalone"
    assert get_shop() is select_shop()  # chosen once


def test_saleors_plugin_app_installed_means_the_saleor_shop():
    assert default_shop(["django.contrib.auth", "saleor.plugins"]) == shop.SALEOR_SHOP
    # Saleor importable is not Saleor installed: only the installed apps count.
    assert default_shop(["django.contrib.auth", "saleor_personalization"]) == STANDALONE_SHOP


@override_settings(PERSONALIZATION_SHOP="saleor_personalization.standalone.shop.StandaloneShop")
def test_the_setting_wins_over_the_default():
    assert shop_path() == "saleor_personalization.standalone.shop.StandaloneShop"


def test_a_shop_that_cannot_be_imported_is_a_clear_configuration_error(monkeypatch):
    monkeypatch.setattr(shop, "_shop", None)
    with (
        override_settings(PERSONALIZATION_SHOP="no_such_package.Shop"),
        pytest.raises(ImproperlyConfigured, match="PERSONALIZATION_SHOP: cannot import"),
    ):
        select_shop()
