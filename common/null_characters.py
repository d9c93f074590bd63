"""Refuse NUL characters in a request's path, query string or form, for every view.

PostgreSQL cannot store or even compare text holding NUL (0x00), so a `%00`
anywhere a view looks up rows (`/?q=%00`, `/coins/bit%00coin/`, a watch or
alert form) raised DataError: a 500. Nobody types NUL on purpose, so the whole
request is refused here, before any view: a 400 page for people, JSON for
`*.json` feeds and the API's error shape under /api/. Request bodies of the
API are JSON, checked by its serializers (CharField refuses NUL), not here.

A cookie holding NUL is dropped instead (`IgnoreNullCharacterCookiesMiddleware`,
first in line): a session key with NUL made every page a 500, and refusing
the request would lock that browser out until its cookie expired.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from common.api_errors import NON_FIELD, error_body

MESSAGE = "Null characters (%00) are not allowed in addresses, search terms or forms."


class IgnoreNullCharacterCookiesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.COOKIES = {
            name: value
            for name, value in request.COOKIES.items()
            if "\x00" not in name and "\x00" not in value
        }
        return self.get_response(request)


class RefuseNullCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if has_null_character(request):
            return refusal(request)
        return self.get_response(request)


def has_null_character(request: HttpRequest) -> bool:
    fields = [request.GET]
    if request.method == "POST" and not is_api(request):
        # Form posts only: a JSON body leaves request.POST empty.
        fields.append(request.POST)
    return "\x00" in request.path_info or any(
        "\x00" in key or any("\x00" in value for value in values)
        for query in fields
        for key, values in query.lists()
    )


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def refusal(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return JsonResponse(
            error_body("validation_error", MESSAGE, {NON_FIELD: [MESSAGE]}), status=400
        )
    if request.path_info.endswith(".json"):
        return JsonResponse({"error": MESSAGE}, status=400)
    return render(request, "400.html", {"message": MESSAGE}, status=400)
