"""After each `transaction=True` test, empty the tables with DELETE instead of TRUNCATE.

pytest-django ends every transactional test (live servers, real workers,
browsers) with Django's `flush`, which on PostgreSQL is one TRUNCATE of every
table: it gives each of the ~40 tables and their indexes new files, about
0.5 s on an idle two-core machine and 1 s under load, after each of the ~170
such tests. A DELETE of each table in the same single transaction takes a few
milliseconds for the handful of rows a test leaves.

The outcome is the same: every table empty, then post_migrate makes the
content types and permissions again, as after a TRUNCATE. Django creates each
foreign key DEFERRABLE INITIALLY DEFERRED, so the order of the deletes does not
matter (cryptomonitor/tests/test_test_database_flush.py checks both). A flush that also
resets sequences or cascades keeps Django's TRUNCATE.

The root conftest.py loads this module as a pytest plugin.
"""

from __future__ import annotations

from django.db.backends.postgresql.operations import DatabaseOperations

_truncate = DatabaseOperations.sql_flush


def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    if reset_sequences or allow_cascade:
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    delete_from = f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')}"
    return [f"{delete_from} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]


def pytest_configure(config) -> None:
    DatabaseOperations.sql_flush = sql_flush
