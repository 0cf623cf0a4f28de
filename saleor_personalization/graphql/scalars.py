"""Scalars that match the schema they are served in.

Saleor defines its own ``Date``, ``DateTime`` and ``JSONString`` (subclasses of graphene's); a
schema holding both Saleor's ``Product`` and graphene's scalars of the same name is
refused by graphene, so inside Saleor the API uses Saleor's.
"""

try:
    from saleor.graphql.core.fields import JSONString
    from saleor.graphql.core.scalars import Date, DateTime
except ImportError:
    from graphene import Date, DateTime, JSONString

__all__ = ["Date", "DateTime", "JSONString"]
