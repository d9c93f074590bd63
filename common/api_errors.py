"""One error shape for every failure of the REST API.

Every non-2xx answer of /api/ has the body

    {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}

`code` is stable and machine-readable, `message` is for people, and `fields`
maps a request field (or query parameter) to its list of messages; it is empty
unless the input was invalid. Errors that concern no single field are listed
under "non_field_errors". 429 answers also carry a Retry-After header.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Invalid request fields or query parameters and their messages.",
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every API error (documentation only: the handler writes it)."""

    error = ErrorBodySerializer()


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def flatten_messages(detail: Any) -> list[str]:
    """All messages of a (possibly nested) DRF error detail, as plain strings."""
    if isinstance(detail, dict):
        return [
            f"{key}: {message}" if not isinstance(key, str) or key.isdigit() else message
            for key, value in detail.items()
            for message in flatten_messages(value)
        ]
    if isinstance(detail, list):
        return [message for item in detail for message in flatten_messages(item)]
    return [str(detail)]


def _field_errors(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(name): flatten_messages(value) for name, value in detail.items()}
    return {NON_FIELD: flatten_messages(detail)}


def _validation_message(fields: dict[str, list[str]]) -> str:
    if fields.get(NON_FIELD):
        return fields[NON_FIELD][0]
    names = ", ".join(sorted(fields))
    return f"Invalid input in: {names}." if names else "Invalid input."


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling, then our one body shape."""
    if isinstance(exc, DjangoValidationError):
        exc = validation_error_from_django(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug: log it with its traceback, answer in the documented shape.
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body("server_error", "Internal server error."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        response.data = error_body("validation_error", _validation_message(fields), fields)
    else:
        code = exc.get_codes()
        if not isinstance(code, str):
            code = exc.default_code
        message = " ".join(flatten_messages(response.data.get("detail", response.data)))
        response.data = error_body(code, message)
    return response


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any URL under /api/ that names no endpoint: a 404 in the API's shape."""
    return JsonResponse(error_body("not_found", "No API endpoint at this URL."), status=404)


class Conflict(exceptions.APIException):
    """The request is valid but the object's state forbids it (e.g. resume an expired alert)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's current state does not allow this."
    default_code = "conflict"


def validation_error_from_django(error: DjangoValidationError) -> exceptions.ValidationError:
    """A model's ValidationError (full_clean) as DRF's, keyed by request field."""
    if not hasattr(error, "error_dict"):
        return exceptions.ValidationError({NON_FIELD: error.messages})
    return exceptions.ValidationError(
        {
            NON_FIELD if name == "__all__" else name: messages
            for name, messages in error.message_dict.items()
        }
    )
