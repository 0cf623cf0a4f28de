"""Optional: the personalization root fields on Saleor's own ``/graphql/``.

Saleor has no supported way for a plugin to add root fields. Saleor itself adds
``_entities``/``_service`` by writing into the built schema's ``Query`` fields
(``graphql/core/federation/schema.py``); this module does the same with the fields of
the personalization schema, after re-pointing every type they use at the instance in
Saleor's schema (``Product`` and everything under it) or registering ours there
(``Personalization*``), so fragments and introspection see one consistent schema.

It depends on graphql-core 2 internals, hence: off by default (the "Also serve the
queries on Saleor's /graphql/" setting), isolated here, and covered by a test inside
real Saleor that fails if an upgrade breaks it.
"""

import logging
import threading

from graphql.type import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
)

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_installed = False

# The ``request_started`` receiver's id (``apps.py`` connects it with this uid):
# disconnecting needs the same uid, or the receiver stays and reads the settings
# on every request.
DISPATCH_UID = "personalization-schema"


class SchemaPatchError(RuntimeError):
    pass


def _rebind(graphql_type, target, seen: set):
    if isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        return type(graphql_type)(_rebind(graphql_type.of_type, target, seen))
    existing = target.get_type(graphql_type.name)
    if existing is not None:
        if not graphql_type.name.startswith("Personalization"):
            return existing
        if existing is graphql_type:
            return existing
        raise SchemaPatchError(f"Saleor's schema already has a type {graphql_type.name}")
    target._type_map[graphql_type.name] = graphql_type
    if graphql_type.name in seen:
        return graphql_type
    seen.add(graphql_type.name)
    if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
        for field in graphql_type.fields.values():
            _rebind_field(field, target, seen)
    elif isinstance(graphql_type, GraphQLInputObjectType):
        for field in graphql_type.fields.values():
            field.type = _rebind(field.type, target, seen)
    return graphql_type


def _rebind_field(field, target, seen: set):
    field.type = _rebind(field.type, target, seen)
    for argument in field.args.values():
        argument.type = _rebind(argument.type, target, seen)
    return field


def patch_schema(target, source) -> list[str]:
    """Copy ``source``'s root fields into ``target``; returns the names added."""
    added = []
    seen: set = set()
    for root in ("Query", "Mutation"):
        source_root, target_root = source.get_type(root), target.get_type(root)
        for name, field in source_root.fields.items():
            if name in target_root.fields:
                if target_root.fields[name] is field:
                    continue
                raise SchemaPatchError(f"Saleor's {root} already has a field {name}")
            target_root.fields[name] = _rebind_field(field, target, seen)
            added.append(f"{root}.{name}")
    return added


def install() -> list[str]:
    """Add the fields to Saleor's schema once per process (idempotent, thread-safe)."""
    global _installed
    with _lock:
        if _installed:
            return []
        from saleor.graphql.api import schema as saleor_schema
        from saleor.graphql.query_cost_map import COST_MAP

        from ..graphql.cost import COST_MAP as PLUGIN_COST_MAP
        from ..graphql.schema import build_schema
        from .graphql_backend import SaleorBackend

        added = patch_schema(saleor_schema, build_schema(SaleorBackend()))
        # Saleor's view costs documents with this very dict: without the plugin's
        # entries its fields would cost 0 there, whatever they ask for.
        for type_name, fields in PLUGIN_COST_MAP.items():
            COST_MAP.setdefault(type_name, {}).update(fields)
        _installed = True
        logger.info("Personalization fields added to Saleor's /graphql/: %s", ", ".join(added))
        return added


def install_if_enabled(**_signal_kwargs) -> None:
    """``request_started`` receiver: patch before the first request if the admin asked.

    Reading the setting needs the database, which ``AppConfig.ready`` must not touch;
    the first request of a process is the earliest safe moment, and it comes before
    any query is validated against the schema. The receiver then disconnects itself:
    the setting is read once per process (so it applies at restart), and every later
    Saleor request costs nothing. Any failure is logged and the shop keeps serving.
    """
    from django.core.signals import request_started

    request_started.disconnect(dispatch_uid=DISPATCH_UID)
    try:
        from .graphql_endpoint import install_route

        install_route()
    except Exception:
        logger.exception("Could not route the personalization endpoint")
    if _installed:
        return
    try:
        from .configuration import load_configuration

        config, active = load_configuration()
        if active and config.single_endpoint:
            install()
    except Exception:
        logger.exception("Could not add the personalization fields to Saleor's /graphql/")
