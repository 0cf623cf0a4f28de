"""Serve a GraphQL request over HTTP: POST only, cost-limited, errors with codes.

Both exposures that have their own URL (the plugin's ``webhook`` inside Saleor and the
standalone ``/graphql/``) go through :func:`execute_request`. Saleor's ``GraphQLView``
is not reused: it validates query cost against Saleor's module-level schema, not the
schema it serves.
"""

import json
import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from graphql import GraphQLError, parse, validate
from graphql.error import GraphQLSyntaxError
from graphql.execution import execute

from .cost import query_cost
from .errors import ErrorCode, PersonalizationError

logger = logging.getLogger(__name__)

MAX_BATCH = 10
MAX_BODY = 256 * 1024


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
    if len(request.body) > MAX_BODY:
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


def run_operation(schema, data: Any, context: Any, max_cost: int) -> tuple[dict, int]:
    if not isinstance(data, dict):
        return {
            "errors": [error_dict("Each operation must be an object.", ErrorCode.GRAPHQL_ERROR)]
        }, 400
    query = data.get("query")
    variables = data.get("variables") or {}
    operation_name = data.get("operationName") or None
    if not isinstance(query, str) or not query.strip():
        return {
            "errors": [error_dict("Must provide a query string.", ErrorCode.GRAPHQL_ERROR)]
        }, 400
    if not isinstance(variables, dict):
        return {
            "errors": [error_dict("variables must be an object.", ErrorCode.GRAPHQL_ERROR)]
        }, 400
    try:
        document = parse(query)
    except GraphQLSyntaxError as error:
        return {"errors": [format_error(error)]}, 400
    errors = validate(schema, document)
    if errors:
        return {"errors": [format_error(e) for e in errors]}, 400
    cost = query_cost(document, variables, operation_name)
    if cost > max_cost:
        message = f"The query costs {cost}, more than the limit of {max_cost}."
        return {
            "errors": [error_dict(message, ErrorCode.QUERY_TOO_COMPLEX)],
            "extensions": {"cost": {"requestedQueryCost": cost, "maximumAvailable": max_cost}},
        }, 400
    result = execute(
        schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
    )
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [format_error(e) for e in result.errors]
    body["extensions"] = {"cost": {"requestedQueryCost": cost, "maximumAvailable": max_cost}}
    return body, 400 if result.invalid else 200


def execute_request(request: HttpRequest, schema, context: Any, max_cost: int) -> JsonResponse:
    if request.method != "POST":
        return error_response(
            "Send GraphQL operations with POST.", ErrorCode.GRAPHQL_ERROR, 405, Allow="POST"
        )
    try:
        data = parse_body(request)
    except ValueError as error:
        return error_response(str(error), ErrorCode.GRAPHQL_ERROR, 400)
    if isinstance(data, list):
        if not data or len(data) > MAX_BATCH:
            return error_response(
                f"Batches hold 1 to {MAX_BATCH} operations.", ErrorCode.GRAPHQL_ERROR, 400
            )
        results = [run_operation(schema, entry, context, max_cost) for entry in data]
        return JsonResponse(
            [body for body, _ in results], status=max(code for _, code in results), safe=False
        )
    body, status = run_operation(schema, data, context, max_cost)
    return JsonResponse(body, status=status)
