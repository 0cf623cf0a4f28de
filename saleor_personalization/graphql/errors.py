"""GraphQL errors with stable codes: what a storefront can branch on."""

from enum import StrEnum

from graphql import GraphQLError


class ErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_TOKEN = "INVALID_TOKEN"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INVALID_OPERATION = "INVALID_OPERATION"
    INVALID_VARIABLES = "INVALID_VARIABLES"
    GRAPHQL_ERROR = "GRAPHQL_ERROR"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class PersonalizationError(GraphQLError):
    """An expected failure: its message is written for the storefront developer."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None):
        extensions = {"code": code.value}
        if field:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
        self.code = code
