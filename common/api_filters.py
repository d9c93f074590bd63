"""Filters shared by the API's filter sets."""

from __future__ import annotations

import django_filters


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """`true` or `false`, anything else a 400 (django-filter's own ignores "maybe")."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(**kwargs)
