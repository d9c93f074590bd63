"""OpenAPI generation: every operation documents the error answers it can give.

The conditional lists (common.api_cache) also document their ETag,
If-None-Match and the 304.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from common.api_cache import ConditionalListMixin
from common.api_errors import ErrorSerializer, error_body

ERRORS = {
    "400": ("Invalid input (request body or query parameters).", "validation_error"),
    "401": ("No credentials, or a wrong or revoked token.", "not_authenticated"),
    "403": ("Authenticated but not allowed (e.g. a missing CSRF token).", "permission_denied"),
    "404": ("No such object, or it belongs to someone else; or no such page.", "not_found"),
    "406": ("The Accept header allows no JSON.", "not_acceptable"),
    "429": ("Too many requests: wait the seconds in Retry-After.", "throttled"),
}
BODY_ERRORS = {
    "415": ("The request body is not JSON or a form.", "unsupported_media_type"),
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before the next request.",
    }
}


ETAG = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "The list's version: send it as If-None-Match to get a 304 while unchanged.",
    }
}
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag of a copy you have: 304 Not Modified, no body, while it is current.",
)


class ApiAutoSchema(AutoSchema):
    def _is_conditional_list(self) -> bool:
        return (
            isinstance(self.view, ConditionalListMixin)
            and self.method == "GET"
            and self._is_list_view()
        )

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._is_conditional_list():
            parameters = [*parameters, IF_NONE_MATCH]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._is_conditional_list() and "200" in responses:
            responses["200"]["headers"] = ETAG
            responses["304"] = {
                "description": "Not Modified: your copy is current.",
                "headers": ETAG,
            }
        errors = dict(ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(BODY_ERRORS)
        for code, (description, error_code) in errors.items():
            if code in responses:
                continue
            example = OpenApiExample(
                error_code,
                value=error_body(error_code, description),
                response_only=True,
                status_codes=[code],
            )
            responses[code] = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=description, examples=[example]),
                code,
                direction=direction,
            )
            if code == "429":
                responses[code]["headers"] = RETRY_AFTER
        return responses


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "A personal API token: `Token <key>` (or `Bearer <key>`). Create one on "
                "/account/tokens/ or with POST /api/v1/auth/token/."
            ),
        }
