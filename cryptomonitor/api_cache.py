"""Rendered API list pages, cached under a validator read from the database.

A list view that mixes in `ValidatedListCacheMixin` names a validator: a short
text that changes whenever a row the page could show changes. Each request
reads it (one small query), and the rendered page is cached under the request
and that validator. A write anywhere, by anyone (the web form, the API, the
alert evaluator's raw SQL, the expiry task, the admin), changes the
validator, so the next request computes the page afresh: the cache is never
stale and needs no invalidation.

The validator is a digest of the rows' ids and `xmin` (the id
of the transaction that wrote each row version): every UPDATE or INSERT
writes a new version with its own transaction id, and a DELETE removes an
id, so no committed change leaves the digest as it was. It relies on no
timestamp being set by the writer. A request inside a transaction (whose own
writes would share one xmin) computes its list every time.

The cache is per process (local memory, `CACHES["api"]`): the validator
comes from the database, not from the cache, so processes cannot disagree,
and a hit costs no network round trip. API_RESPONSE_CACHE=False turns it off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone, translation
from rest_framework.request import Request
from rest_framework.response import Response

CACHE_ALIAS = "api"


@dataclass(frozen=True)
class ValidatorQuery:
    """One statement whose single row (count, digest) changes with any row a page shows."""

    sql: str  # placeholders %s; only code constants are formatted in
    params: tuple

    def read(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            return validator_text(cursor.fetchone())


def validator_text(row: tuple) -> str:
    count, digest = row
    return f"{count}:{digest}"


def row_digest(
    table: str, where: str = "", params: tuple = (), extra: str = ""
) -> ValidatorQuery | None:
    """Count and digest of the rows of `table` matching `where`; None inside a transaction.

    `table` is aliased `t`; `extra` adds an expression per row (e.g. a joined
    column that the page shows) to what is digested.
    """
    if connection.in_atomic_block:
        # Inside a transaction, its own earlier writes share one xmin.
        return None
    row = "t.id, t.xmin" + (f", {extra}" if extra else "")
    # A sum of 64-bit hashes: no sort, unlike an ordered string_agg (half the
    # cost at 250 coins). Each row hashed as a record (PostgreSQL 14+), not
    # as text built from its columns: 178 -> 121 us for 250 coins.
    sql = f"SELECT count(*), sum(hash_record_extended(({row}), 0)) FROM {table} t {where}"  # noqa: S608
    return ValidatorQuery(sql, tuple(params))


class ValidatedListCacheMixin:
    """`list` answers from the process's cache while the validator is unchanged."""

    list_cache_scope: str

    def list_validator(self, request: Request) -> ValidatorQuery | None:
        """The query whose row changes whenever a row this list could show changes.

        None: no caching (e.g. inside a transaction).
        """
        raise NotImplementedError

    def list(self, request: Request, *args, **kwargs) -> HttpResponse:
        query = self.list_validator(request) if settings.API_RESPONSE_CACHE else None
        if query is None:
            return super().list(request, *args, **kwargs)
        validator = query.read()
        cache = caches[CACHE_ALIAS]
        key = self.list_cache_key(request, validator)
        cached = cache.get(key)
        if cached is None:
            response = super().list(request, *args, **kwargs)
            content = self.render_list(request, response)
            cached = (response.status_code, response["Content-Type"], content)
            cache.set(key, cached)
        status, content_type, content = cached
        return HttpResponse(content, status=status, content_type=content_type)

    def list_cache_key(self, request: Request, validator: str) -> str:
        """Everything the rendered page depends on besides the rows themselves."""
        parts = (
            self.list_cache_scope,
            # Never another user's page (the validator is per user too).
            str(request.user.pk) if request.user.is_authenticated else "-",
            # Host, scheme, path and query: filters, page, and the pagination links.
            request.build_absolute_uri(),
            request.accepted_media_type,  # e.g. application/json; indent=4
            timezone.get_current_timezone_name(),
            translation.get_language() or "",
            validator,
        )
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def render_list(self, request: Request, response: Response) -> bytes:
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = self.get_renderer_context()
        return response.rendered_content
