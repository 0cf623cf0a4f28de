"""The shop port and the one place that says which shop this process runs in.

``AppConfig.ready()`` calls :func:`select_shop` once; everything else calls
:func:`get_shop`. The choice comes from ``settings.PERSONALIZATION_SHOP`` (a dotted
path to a :class:`~.port.Shop` class). Its default follows the installed apps, the
way Django picks ``SESSION_ENGINE`` from settings rather than from what can be
imported: Saleor's plugin app installed means the Saleor shop, otherwise the
standalone one. "Can ``saleor`` be imported" is not asked anywhere: a Saleor
checkout on the path of a standalone process is not a Saleor shop.
"""

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .port import GraphQLScalars, Shop, ShopCapabilityMissing, VoucherSummary

SALEOR_SHOP = "saleor_personalization.saleor_adapter.shop.SaleorShop"
STANDALONE_SHOP = "saleor_personalization.standalone.shop.StandaloneShop"
# Present in every Saleor deployment's INSTALLED_APPS (saleor/settings.py).
SALEOR_APP = "saleor.plugins"

_shop: Shop | None = None

__all__ = [
    "GraphQLScalars",
    "Shop",
    "ShopCapabilityMissing",
    "VoucherSummary",
    "default_shop",
    "get_shop",
    "select_shop",
    "shop_path",
]


def default_shop(installed_apps: Sequence[str]) -> str:
    """The shop the installed apps imply: Saleor's when Saleor's plugin app is installed."""
    return SALEOR_SHOP if SALEOR_APP in installed_apps else STANDALONE_SHOP


def shop_path() -> str:
    """The configured shop class, or the default the installed apps imply."""
    return getattr(settings, "PERSONALIZATION_SHOP", None) or default_shop(settings.INSTALLED_APPS)


def select_shop() -> Shop:
    """Build the shop once (``AppConfig.ready()``); later calls return the same one."""
    global _shop
    if _shop is None:
        path = shop_path()
        try:
            _shop = import_string(path)()
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"PERSONALIZATION_SHOP: cannot import {path!r} ({exc})"
            ) from exc
    return _shop


def get_shop() -> Shop:
    """The shop selected at start-up."""
    if _shop is None:
        raise ImproperlyConfigured(
            "saleor_personalization is not ready: add it to INSTALLED_APPS (Saleor does so "
            "through its plugin entry point) before using the shop."
        )
    return _shop
