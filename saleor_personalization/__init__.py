"""Personalization for Saleor: recommendations, segments, offers and abandoned-checkout emails.

The package is a Django app. Inside Saleor it is found through the ``saleor.plugins``
entry point; standalone it runs with ``saleor_personalization.standalone.settings``.
"""

__version__ = "0.1.0"
