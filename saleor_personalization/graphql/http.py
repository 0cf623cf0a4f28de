"""Serve a GraphQL request over HTTP: POST only, cost-limited, errors with codes.

Both exposures that have their own URL (the plugin's ``webhook`` inside Saleor and the
standalone ``/graphql/``) go through :func:`execute_request`. Saleor's ``GraphQLView``
is not reused: it validates query cost against Saleor's module-level schema, not the
schema it serves.
"""

import json
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from graphql import GraphQLError, parse, validate
from graphql.error import GraphQLSyntaxError
from graphql.execution import execute
from graphql.execution.values import get_variable_values
from graphql.language import ast
from graphql.validation.rules import NoFragmentCycles

from .cost import COST_MAP, QueryTooComplex, query_cost
from .errors import ErrorCode, PersonalizationError

logger = logging.getLogger(__name__)

MAX_BATCH = 10
MAX_BODY = 256 * 1024
DOCUMENT_CACHE_SIZE = 1000  # as Saleor's CacheDict(1000) of validated documents


def error_dict(message: str, code: ErrorCode) -> dict:
    return {"message": message, "extensions": {"code": code.value}}


def error_response(message: str, code: ErrorCode, status: int, **headers) -> JsonResponse:
    response = JsonResponse({"errors": [error_dict(message, code)]}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def format_error(error: Exception) -> dict:
    """The client's view of an error: a message, a code, where; never a stack trace."""
    original: Any = error
    while getattr(original, "original_error", None) is not None:
        original = original.original_error
    if isinstance(original, PersonalizationError):
        formatted = {"message": original.message, "extensions": dict(original.extensions)}
    elif isinstance(original, GraphQLError):
        formatted = error_dict(original.message, ErrorCode.GRAPHQL_ERROR)
    else:
        logger.error("Personalization GraphQL resolver failed", exc_info=original)
        formatted = error_dict("Internal error; it has been logged.", ErrorCode.INTERNAL_ERROR)
    if isinstance(error, GraphQLError):
        if error.locations:
            formatted["locations"] = [
                {"line": loc.line, "column": loc.column} for loc in error.locations
            ]
        if getattr(error, "path", None):
            formatted["path"] = error.path
    return formatted


def parse_body(request: HttpRequest) -> dict | list:
    try:
        size = len(request.body)
    except RequestDataTooBig as error:  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE
        raise ValueError("The request body is too large.") from error
    if size > MAX_BODY:
        raise ValueError("The request body is too large.")
    if request.content_type == "application/graphql":
        return {"query": request.body.decode("utf-8")}
    try:
        body = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError("The body is not JSON.") from error
    if not isinstance(body, dict | list):
        raise ValueError('Send {"query": ..., "variables": ...} as JSON.')
    return body


@dataclass
class Prepared:
    """One operation of a request, parsed, validated and costed (or its error answer)."""

    document: Any = None
    variables: dict = field(default_factory=dict)
    operation_name: str | None = None
    cost: int = 0
    error: tuple[dict, int] | None = None


def _client_error(message: str, code: ErrorCode) -> tuple[dict, int]:
    return {"errors": [error_dict(message, code)]}, 400


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _document_has_nul(node: Any) -> bool:
    if isinstance(node, ast.StringValue):
        return "\x00" in node.value
    if isinstance(node, ast.Node):
        return any(_document_has_nul(getattr(node, slot, None)) for slot in node.__slots__)
    if isinstance(node, list):
        return any(_document_has_nul(item) for item in node)
    return False


def _unnamed_among_several(document: ast.Document) -> bool:
    operations = [d for d in document.definitions if isinstance(d, ast.OperationDefinition)]
    return len(operations) > 1 and any(operation.name is None for operation in operations)


def _loose_int(operation: ast.OperationDefinition, variables: dict) -> str:
    """The first Int variable sent as a fraction or a boolean (graphql-core 2 rounds it)."""
    for definition in operation.variable_definitions or []:
        node = definition.type
        while not isinstance(node, ast.NamedType):
            node = node.type
        if node.name.value != "Int":
            continue
        name = definition.variable.name.value
        values = variables.get(name)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                return name
    return ""


def _operation(document: ast.Document, name: str | None):
    """The operation to run, as execution would pick it (None: the error message)."""
    operations = [d for d in document.definitions if isinstance(d, ast.OperationDefinition)]
    if name:
        for operation in operations:
            if operation.name and operation.name.value == name:
                return operation, None
        return None, f"There is no operation named {name!r} in the document."
    if len(operations) != 1:
        return None, "The document has several operations: send operationName to pick one."
    return operations[0], None


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def checked_document(schema, query: str) -> tuple[Any, tuple[dict, int] | None]:
    """The query parsed and validated against ``schema``, or its error answer.

    Kept per query text, as Saleor's own view keeps its documents
    (``GraphQLCachedBackend`` in ``saleor/graphql/api.py``): a storefront sends the same
    few documents again and again with new variables, and validating against a schema
    of Saleor's size costs more than most resolvers. Execution never changes the AST.
    """
    try:
        document = parse(query)
    except GraphQLSyntaxError as error:
        return None, ({"errors": [format_error(error)]}, 400)
    if _document_has_nul(document):
        return None, _client_error(
            "Strings must not contain NUL characters.", ErrorCode.INVALID_ARGUMENT
        )
    if _unnamed_among_several(document):
        return None, _client_error(
            "Several operations in one document must each be named; send operationName "
            "to pick one.",
            ErrorCode.INVALID_OPERATION,
        )
    # Fragment cycles first: the full validation recurses through them without end.
    errors = validate(schema, document, [NoFragmentCycles]) or validate(schema, document)
    if errors:
        return None, ({"errors": [format_error(e) for e in errors]}, 400)
    return document, None


def prepare(schema, data: Any, cost_map: dict) -> Prepared:
    """Everything a client can get wrong, answered with 400 before anything runs."""
    if not isinstance(data, dict):
        return Prepared(
            error=_client_error("Each operation must be an object.", ErrorCode.GRAPHQL_ERROR)
        )
    query = data.get("query")
    variables = data.get("variables") or {}
    operation_name = data.get("operationName") or None
    if not isinstance(query, str) or not query.strip():
        return Prepared(
            error=_client_error("Must provide a query string.", ErrorCode.GRAPHQL_ERROR)
        )
    if not isinstance(variables, dict):
        return Prepared(
            error=_client_error("variables must be an object.", ErrorCode.GRAPHQL_ERROR)
        )
    if operation_name is not None and not isinstance(operation_name, str):
        return Prepared(
            error=_client_error("operationName must be a string.", ErrorCode.INVALID_OPERATION)
        )
    if "\x00" in query or _has_nul(variables) or _has_nul(operation_name):
        return Prepared(
            error=_client_error(
                "Strings must not contain NUL characters.", ErrorCode.INVALID_ARGUMENT
            )
        )
    document, error = checked_document(schema, query)
    if error is not None:
        return Prepared(error=error)
    operation, problem = _operation(document, operation_name)
    if operation is None:
        return Prepared(error=_client_error(problem, ErrorCode.INVALID_OPERATION))
    loose = _loose_int(operation, variables)
    if loose:
        return Prepared(
            error=_client_error(
                f"Invalid variables: ${loose} is an Int; send a whole number.",
                ErrorCode.INVALID_VARIABLES,
            )
        )
    try:
        get_variable_values(schema, operation.variable_definitions or [], variables)
    except Exception as error:  # graphql-core raises a bare Exception for 2**31 in an Int
        message = getattr(error, "message", None) or str(error)
        return Prepared(
            error=_client_error(f"Invalid variables: {message}", ErrorCode.INVALID_VARIABLES)
        )
    try:
        cost = query_cost(schema, document, variables, cost_map=cost_map).cost
    except QueryTooComplex as error:
        return Prepared(error=_client_error(str(error), ErrorCode.QUERY_TOO_COMPLEX))
    return Prepared(
        document=document, variables=variables, operation_name=operation_name, cost=cost
    )


def _too_costly(cost: int, max_cost: int) -> tuple[dict, int]:
    message = f"The query costs {cost}, more than the limit of {max_cost}."
    return {
        "errors": [error_dict(message, ErrorCode.QUERY_TOO_COMPLEX)],
        "extensions": {"cost": {"requestedQueryCost": cost, "maximumAvailable": max_cost}},
    }, 400


def run(schema, prepared: Prepared, context: Any, max_cost: int) -> tuple[dict, int]:
    if prepared.error is not None:
        return prepared.error
    try:
        result = execute(
            schema,
            prepared.document,
            context_value=context,
            variable_values=prepared.variables,
            operation_name=prepared.operation_name,
        )
    except GraphQLError as error:  # raised while setting up execution: the client's input
        return {"errors": [format_error(error)]}, 400
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(e) for e in result.errors]
    body["extensions"] = {
        "cost": {"requestedQueryCost": prepared.cost, "maximumAvailable": max_cost}
    }
    return body, 400 if result.invalid else 200


def execute_request(
    request: HttpRequest, schema, context: Any, max_cost: int, cost_map: dict | None = None
) -> JsonResponse:
    """Serve one operation or a batch; a batch's operations share one cost budget."""
    if request.method != "POST":
        return error_response(
            "Send GraphQL operations with POST.", ErrorCode.GRAPHQL_ERROR, 405, Allow="POST"
        )
    try:
        data = parse_body(request)
    except ValueError as error:
        return error_response(str(error), ErrorCode.GRAPHQL_ERROR, 400)
    cost_map = cost_map if cost_map is not None else COST_MAP
    batch = isinstance(data, list)
    if batch and (not data or len(data) > MAX_BATCH):
        return error_response(
            f"Batches hold 1 to {MAX_BATCH} operations.", ErrorCode.GRAPHQL_ERROR, 400
        )
    entries = [prepare(schema, entry, cost_map) for entry in (data if batch else [data])]
    total = sum(entry.cost for entry in entries)
    if total > max_cost:
        results = [entry.error or _too_costly(total, max_cost) for entry in entries]
    else:
        results = [run(schema, entry, context, max_cost) for entry in entries]
    if batch:
        return JsonResponse(
            [body for body, _ in results], status=max(code for _, code in results), safe=False
        )
    body, status = results[0]
    return JsonResponse(body, status=status)
