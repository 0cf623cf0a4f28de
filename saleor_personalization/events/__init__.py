"""Turning what Saleor and the storefront report into interaction events.

Everything here takes plain dataclasses (:mod:`.types`); the Saleor adapter builds
them from Saleor's models, the storefront from GraphQL input.
"""
