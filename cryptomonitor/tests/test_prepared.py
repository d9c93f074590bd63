"""cryptomonitor.prepared: hot queries as prepared statements, on the real PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from cryptomonitor import prepared

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT %s::int + 1, 'a:b'"


def session_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture(autouse=True)
def fresh_session():
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    prepared._prepared.pop(connection.connection, None)


def test_the_first_call_prepares_and_answers_in_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert prepared.fetchone("cm_test_plus", SQL, (41,)) == (42, "a:b")

    assert "cm_test_plus" in session_statements()


def test_later_calls_execute_the_prepared_statement(django_assert_num_queries):
    prepared.fetchone("cm_test_plus", SQL, (1,))

    with django_assert_num_queries(1) as queries:
        assert prepared.fetchone("cm_test_plus", SQL, (2,)) == (3, "a:b")

    assert queries.captured_queries[0]["sql"] == "EXECUTE cm_test_plus(2)"


def test_a_statement_the_session_lost_is_prepared_again():
    prepared.fetchone("cm_test_plus", SQL, (1,))
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")

    assert prepared.fetchone("cm_test_plus", SQL, (5,)) == (6, "a:b")


def test_a_statement_the_session_has_but_we_forgot_is_executed():
    prepared.fetchone("cm_test_plus", SQL, (1,))
    prepared._prepared.pop(connection.connection)

    assert prepared.fetchone("cm_test_plus", SQL, (7,)) == (8, "a:b")


def test_inside_a_transaction_the_query_is_sent_as_text():
    with transaction.atomic():
        assert prepared.fetchone("cm_test_plus", SQL, (1,)) == (2, "a:b")

    assert "cm_test_plus" not in session_statements()


def test_bare_calls_skip_djangos_cursor(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert prepared.fetchone("cm_test_plus", SQL, (1,), bare=True) == (2, "a:b")
        assert prepared.fetchone("cm_test_plus", SQL, (2,), bare=True) == (3, "a:b")

    assert "cm_test_plus" in session_statements()


def test_a_bare_call_prepares_a_lost_statement_again():
    prepared.fetchone("cm_test_plus", SQL, (1,), bare=True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")

    assert prepared.fetchone("cm_test_plus", SQL, (5,), bare=True) == (6, "a:b")


def test_a_bare_call_executes_a_statement_we_forgot():
    prepared.fetchone("cm_test_plus", SQL, (1,), bare=True)
    prepared._prepared.pop(connection.connection)

    assert prepared.fetchone("cm_test_plus", SQL, (7,), bare=True) == (8, "a:b")


def test_a_bare_call_opens_a_closed_connection():
    connection.close()

    assert prepared.fetchone("cm_test_plus", SQL, (9,), bare=True) == (10, "a:b")
