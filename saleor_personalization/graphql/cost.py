"""Query cost: every field costs one, a list field's selection costs once per item.

The list size is the field's ``first`` argument (capped as the resolvers cap it) or
the number of ``products`` passed to ``rerankProducts``; nested Saleor fields without
``first`` count once. That bounds the work a single request can ask for without
knowing every type's internals, on Saleor's schema and on the standalone one.
"""

from graphql.language import ast

MAX_FIRST = 100
DEFAULT_FIRST = 10


def _argument(field: ast.Field, name: str, variables: dict):
    for argument in field.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, ast.Variable):
            return variables.get(value.name.value)
        if isinstance(value, ast.IntValue):
            return int(value.value)
        if isinstance(value, ast.ListValue):
            return list(value.values)
        return None
    return None


def _multiplier(field: ast.Field, variables: dict) -> int:
    first = _argument(field, "first", variables)
    if isinstance(first, int):
        return max(1, min(first, MAX_FIRST))
    products = _argument(field, "products", variables)
    if isinstance(products, list):
        return max(1, min(len(products), MAX_FIRST))
    return 1


def _selection_cost(selection_set, fragments: dict, variables: dict, seen: frozenset) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, ast.Field):
            inner = _selection_cost(selection.selection_set, fragments, variables, seen)
            total += 1 + _multiplier(selection, variables) * inner
        elif isinstance(selection, ast.InlineFragment):
            total += _selection_cost(selection.selection_set, fragments, variables, seen)
        elif isinstance(selection, ast.FragmentSpread):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue
            total += _selection_cost(
                fragments[name].selection_set, fragments, variables, seen | {name}
            )
    return total


def query_cost(document: ast.Document, variables: dict | None, operation_name: str | None) -> int:
    variables = variables or {}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, ast.FragmentDefinition)
    }
    operations = [d for d in document.definitions if isinstance(d, ast.OperationDefinition)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return max(
        (_selection_cost(o.selection_set, fragments, variables, frozenset()) for o in operations),
        default=0,
    )
