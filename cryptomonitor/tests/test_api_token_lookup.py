"""accounts.authentication.find_token: the model's rules in one precompiled query."""

from __future__ import annotations

import pytest

from accounts.authentication import find_token
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(owner):
    return ApiToken.issue(owner, "lookup")


def test_it_finds_the_token_and_its_user_in_one_query(issued, owner, django_assert_num_queries):
    token, key = issued

    with django_assert_num_queries(1):
        found = find_token(key)
        assert (found.pk, found.user.pk, found.user.username) == (token.pk, owner.pk, "alice")


def test_it_agrees_with_the_model_on_a_good_key(issued):
    _, key = issued

    assert find_token(key) == ApiToken.authenticate(key)


def test_a_revoked_token_is_not_found(issued):
    token, key = issued
    token.revoke()

    assert find_token(key) is None is ApiToken.authenticate(key)


def test_a_token_of_an_inactive_user_is_not_found(issued, owner):
    _, key = issued
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert find_token(key) is None is ApiToken.authenticate(key)


def test_an_unknown_key_is_not_found(issued):
    _, key = issued

    assert find_token(key + "x") is None


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_answers_from_a_prepared_statement(
    issued, owner, django_assert_num_queries
):
    _, key = issued
    find_token(key)

    with django_assert_num_queries(1) as queries:
        assert find_token(key).user.pk == owner.pk
    assert queries.captured_queries[0]["sql"].startswith("EXECUTE cm_api_token(")
    assert find_token(key + "x") is None
