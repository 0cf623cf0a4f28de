"""Query cost and depth: the whole document, costed the way Saleor costs its own API.

Saleor gives each field a ``complexity`` and optional ``multipliers`` (the arguments
that size a list, e.g. ``first``/``last``) in its cost map; a field costs its
complexity times the page sizes of every list above it, so nesting multiplies
(``saleor/graphql/core/validators/query_cost.py``). This module applies the same
rule with Saleor's cost map for Saleor's types and :data:`COST_MAP` for the plugin's
fields, with three additions that close what a per-field count leaves open:

* a paged field without its page size counts the size the resolver really returns
  (``DEFAULT_FIRST``), and sizes are capped as the resolvers cap them;
* a list with no page-size argument (Saleor's ``Product.variants``, ``attributes``…)
  counts as ``UNPAGED_LIST_SIZE`` items for what is selected under it, so
  ``items { product { variants { product { variants … } } } }`` grows with each level
  as the work does;
* a depth limit (``MAX_DEPTH`` nested fields below a root field).

Every operation of a document is counted (a client cannot hide work in an operation
it does not name), and the HTTP layer sums the operations of a batch.
"""

from dataclasses import dataclass
from typing import Any

from graphql.execution.values import get_argument_values
from graphql.language import ast
from graphql.type import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
)
from graphql.utils.type_from_ast import type_from_ast
from graphql.utils.value_from_ast import value_from_ast

MAX_FIRST = 100
DEFAULT_FIRST = 10
UNPAGED_LIST_SIZE = 10
MAX_DEPTH = 10

_PAGED = {"complexity": 1, "multipliers": ["first"]}
_ONE = {"complexity": 1}

# The plugin's fields, in the format of Saleor's ``COST_MAP`` (so the same entries can
# be added to Saleor's map when the fields are served on its ``/graphql/``).
COST_MAP: dict[str, dict[str, dict[str, Any]]] = {
    "Query": {
        "personalizedProducts": _PAGED,
        "buyAgainProducts": _PAGED,
        "similarProducts": _PAGED,
        "frequentlyBoughtTogether": _PAGED,
        "recentlyViewedProducts": _PAGED,
        "trendingProducts": _PAGED,
        "rerankProducts": {"complexity": 1, "multipliers": ["products"]},
        "mySegments": _ONE,
        "myOffers": _ONE,
        "personalizationSegments": _ONE,
        "personalizationOfferReport": _ONE,
        "personalizationEmailStats": _ONE,
        "personalizationModelRuns": _PAGED,
        "personalizationLiveRun": _ONE,
        "personalizationStats": _ONE,
    },
    "Mutation": {
        "trackEvent": _ONE,
        "marketingConsentUpdate": _ONE,
        "personalizationTrain": _ONE,
        "personalizationRollback": _ONE,
    },
    "PersonalizationProductList": {"items": _ONE},
    "PersonalizationRecommendation": {"product": _ONE},
    "PersonalizationSegmentInfo": {"members": _PAGED, "sizes": _ONE},
}

ROOT_FIELDS = frozenset(COST_MAP["Query"]) | frozenset(COST_MAP["Mutation"])


class QueryTooComplex(ValueError):
    """The document is deeper than allowed (cost is compared by the caller)."""


@dataclass(frozen=True)
class QueryCost:
    cost: int
    depth: int


def _is_own_list(parent_name: str, field_name: str) -> bool:
    """The plugin's own lists are bounded by its resolvers (the page size above them)."""
    if parent_name.startswith("Personalization"):
        return True
    return parent_name in ("Query", "Mutation") and field_name in ROOT_FIELDS


def _list_of_objects(graphql_type) -> bool:
    while isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    if not isinstance(graphql_type, GraphQLList):
        return False
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)


def _named(graphql_type):
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


class _Costing:
    def __init__(self, schema, cost_map: dict, variables: dict, fragments: dict, max_depth: int):
        self.schema = schema
        self.cost_map = cost_map
        self.variables = variables
        self.fragments = fragments
        self.max_depth = max_depth
        self.deepest = 0

    def page_size(self, rule: dict | None, field_def, node: ast.Field) -> int | None:
        """The list size a field's multipliers ask for, or None when it has none."""
        if not rule or not rule.get("multipliers"):
            return None
        try:
            arguments = get_argument_values(field_def.args, node.arguments, self.variables)
        except Exception:
            # Invalid arguments fail at execution; cost them as the largest page.
            return MAX_FIRST
        total = 0
        for name in rule["multipliers"]:
            value = arguments.get(name)
            if isinstance(value, list | tuple):
                value = len(value)
            try:
                total += max(0, int(value)) if value is not None else 0
            except (TypeError, ValueError):
                total += MAX_FIRST
        if total == 0:
            return DEFAULT_FIRST
        return min(total, MAX_FIRST)

    def selection(self, parent_type, selection_set, scale: int, depth: int, seen=()) -> int:
        if selection_set is None:
            return 0
        fields = getattr(parent_type, "fields", None) or {}
        total = 0
        for node in selection_set.selections:
            if isinstance(node, ast.Field):
                name = node.name.value
                if name.startswith("__"):
                    continue  # introspection: bounded by the schema, not by the data
                field_def = fields.get(name)
                if field_def is None:
                    continue
                if depth + 1 > self.max_depth:
                    raise QueryTooComplex(
                        f"The query is nested deeper than {self.max_depth} fields."
                    )
                self.deepest = max(self.deepest, depth + 1)
                rule = self.cost_map.get(parent_type.name, {}).get(name)
                size = self.page_size(rule, field_def, node)
                if (
                    size is None
                    and not _is_own_list(parent_type.name, name)
                    and _list_of_objects(field_def.type)
                ):
                    size = UNPAGED_LIST_SIZE
                inner_scale = scale * (size or 1)
                if rule is not None:
                    total += rule.get("complexity", 1) * inner_scale
                total += self.selection(
                    _named(field_def.type), node.selection_set, inner_scale, depth + 1, seen
                )
            elif isinstance(node, ast.InlineFragment):
                target = parent_type
                if node.type_condition is not None:
                    target = self.schema.get_type(node.type_condition.name.value) or parent_type
                total += self.selection(target, node.selection_set, scale, depth, seen)
            elif isinstance(node, ast.FragmentSpread):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent_type
                total += self.selection(target, fragment.selection_set, scale, depth, (*seen, name))
        return total


def query_cost(
    schema,
    document: ast.Document,
    variables: dict | None = None,
    *,
    cost_map: dict | None = None,
    max_depth: int = MAX_DEPTH,
    root_fields: frozenset[str] | None = None,
) -> QueryCost:
    """The cost of every operation in ``document`` (raises QueryTooComplex when too deep).

    ``root_fields`` restricts the count to those root fields (the plugin's fields on
    Saleor's ``/graphql/``, where Saleor costs the rest).
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, ast.FragmentDefinition)
    }
    costing = _Costing(schema, cost_map or COST_MAP, variables or {}, fragments, max_depth)
    total = 0
    for definition in document.definitions:
        if not isinstance(definition, ast.OperationDefinition):
            continue
        root = (
            schema.get_mutation_type()
            if definition.operation == "mutation"
            else schema.get_subscription_type()
            if definition.operation == "subscription"
            else schema.get_query_type()
        )
        if root is None:
            continue
        costing.variables = _with_defaults(schema, definition, variables or {})
        selection_set = definition.selection_set
        if root_fields is not None:
            selection_set = _only(selection_set, root_fields, fragments)
        total += costing.selection(root, selection_set, 1, 0)
    return QueryCost(cost=total, depth=costing.deepest)


def _with_defaults(schema, operation: ast.OperationDefinition, variables: dict) -> dict:
    """The variables as the operation will run: a default counts as if it were sent.

    Otherwise ``query($n: Int = 100) { ... first: $n ... }`` would be costed at the
    default page size and served at 100.
    """
    values = dict(variables)
    for definition in operation.variable_definitions or []:
        name = definition.variable.name.value
        if name in values or definition.default_value is None:
            continue
        variable_type = type_from_ast(schema, definition.type)
        if variable_type is not None:
            values[name] = value_from_ast(definition.default_value, variable_type)
    return values


def _only(selection_set, names: frozenset[str], fragments: dict):
    """The root selections that are among ``names`` (fragments on the root flattened)."""
    kept: list = []

    def collect(selections, seen):
        for node in selections:
            if isinstance(node, ast.Field) and node.name.value in names:
                kept.append(node)
            elif isinstance(node, ast.InlineFragment):
                collect(node.selection_set.selections, seen)
            elif isinstance(node, ast.FragmentSpread):
                fragment = fragments.get(node.name.value)
                if fragment is not None and node.name.value not in seen:
                    collect(fragment.selection_set.selections, (*seen, node.name.value))

    collect(selection_set.selections, ())
    return ast.SelectionSet(selections=kept)


def merged_cost_map(shop_cost_map: dict) -> dict:
    """The shop's cost map (Saleor's) with the plugin's fields added."""
    merged = {name: dict(fields) for name, fields in shop_cost_map.items()}
    for type_name, fields in COST_MAP.items():
        merged.setdefault(type_name, {}).update(fields)
    return merged
