"""The personalization GraphQL API: one schema, served by Saleor or by the standalone app.

The schema is built around a :class:`~.backend.ShopBackend`, which supplies the product
type, who is asking and which products they may see. Inside Saleor that is Saleor's own
``Product`` type and visibility rules (``saleor_adapter.graphql_backend``); standalone it
is a small product type over the plugin's item profiles.
"""
