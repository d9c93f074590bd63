"""Hot queries as server-side prepared statements, planned once per database connection.

Django sends every query as text (client-side binding, psycopg's prepared
statements off), so PostgreSQL parses and plans each one again: for the API's
per-request queries (the page validators, the token lookup) planning costs
more than running them (alerts validator: 0.33 ms a query, 0.22 ms prepared).
`fetchone` runs a query through `PREPARE name AS ...` the first time on a
connection (in the same round trip as its first `EXECUTE`), then `EXECUTE
name(...)`; it still goes through Django's cursor, so it is logged and counted
like any query.

A prepared statement lives in the database session: this needs one session
per Django connection (no transaction-mode pooler in between). Inside a
transaction block, and off PostgreSQL, the query is sent as plain text: a
failed EXECUTE there would abort the caller's transaction.
"""

from __future__ import annotations

import functools
import hashlib
import weakref

import psycopg
from django.db import connection
from django.db.utils import ProgrammingError

# Names prepared on each open psycopg connection (gone with the connection).
_prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

INVALID_STATEMENT_NAME = "26000"  # EXECUTE of a statement this session does not have
DUPLICATE_PREPARED_STATEMENT = "42P05"


@functools.lru_cache(maxsize=256)
def statement_name(sql: str) -> str:
    """A name for `sql` unique to its text, for queries composed at run time."""
    return "cm_" + hashlib.sha256(sql.encode()).hexdigest()[:16]


def fetchone(name: str, sql: str, params: tuple = (), *, bare: bool = False) -> tuple | None:
    """The first row of `sql` (placeholders %s) with `params`, prepared as `name` on PostgreSQL.

    `name` must be unique per distinct `sql` in the project; `sql` must hold
    no other % than its placeholders. `bare` runs it on the psycopg
    connection itself, past Django's cursor wrapper (no query logging or
    counting, psycopg's own exceptions), which costs as much CPU as the
    query: for cryptomonitor.api_front, outside any request Django handles.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    if bare:
        connection.ensure_connection()
        cursor_context = connection.connection.cursor()
    else:
        cursor_context = connection.cursor()
    with cursor_context as cursor:
        names = _prepared.setdefault(connection.connection, set())
        arguments = f"({', '.join(['%s'] * len(params))})" if params else ""
        execute = f"EXECUTE {name}{arguments}"
        if name in names:
            try:
                cursor.execute(execute, params)
                return cursor.fetchone()
            except (ProgrammingError, psycopg.Error) as exc:
                if _sqlstate(exc) != INVALID_STATEMENT_NAME:
                    raise
                names.discard(name)  # e.g. a DISCARD ALL: prepare it again
        parts = sql.split("%s")
        body = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
        try:
            # PREPARE and the first EXECUTE in one round trip (simple query protocol).
            cursor.execute(f"PREPARE {name} AS {body}; {execute}", params)
        except (ProgrammingError, psycopg.Error) as exc:
            if _sqlstate(exc) != DUPLICATE_PREPARED_STATEMENT:
                raise
            cursor.execute(execute, params)
            names.add(name)
            return cursor.fetchone()
        names.add(name)
        cursor.nextset()  # past PREPARE's empty result
        return cursor.fetchone()


def _sqlstate(exc: Exception) -> str | None:
    # psycopg's own error, or Django's wrapping one.
    return getattr(exc, "sqlstate", None) or getattr(exc.__cause__, "sqlstate", None)
