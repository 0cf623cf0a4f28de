"""Abandoned-checkout emails: detection, the step sequence, content, delivery, tracking.

The core decides who gets which step and sends exactly once; what a checkout holds
(lines with images and prices, the shopper's name, whether it still exists) comes
from a :class:`~.content.CheckoutSource`: Saleor's tables inside Saleor
(``saleor_adapter.email_content``), the plugin's own cart mirror standalone.
"""
