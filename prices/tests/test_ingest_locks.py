"""An ingest's coin row locks: ingests take turns, rows that reference coins go on.

Transactional: the lock must be held by a real open transaction while a second
connection tries.
"""

import psycopg
import pytest
from django.db import connection, transaction

from prices.ingest import store_quotes
from prices.models import Coin, PriceSource
from prices.tests.pipeline import quote

pytestmark = pytest.mark.django_db(transaction=True)


def other_connection() -> psycopg.Connection:
    other = psycopg.connect(connection.connection.info.dsn, autocommit=True)
    other.execute("SET lock_timeout = '1s'")
    return other


def test_a_foreign_key_check_on_a_coin_waits_for_no_ingest():
    # An alert event, tick or watchlist row inserted elsewhere checks its coin
    # with FOR KEY SHARE: it must not queue behind a poll's price update.
    store_quotes([quote("bitcoin", "27000")], PriceSource.COINGECKO)
    coin_id = Coin.objects.get(coingecko_id="bitcoin").pk
    with transaction.atomic(), other_connection() as other:
        store_quotes([quote("bitcoin", "27100", seconds=10)], PriceSource.COINGECKO)

        row = other.execute(
            "SELECT id FROM prices_coin WHERE id = %s FOR KEY SHARE", (coin_id,)
        ).fetchone()

    assert row == (coin_id,)


def test_a_second_ingest_of_the_same_coin_waits_its_turn():
    store_quotes([quote("bitcoin", "27000")], PriceSource.COINGECKO)
    coin_id = Coin.objects.get(coingecko_id="bitcoin").pk
    with transaction.atomic(), other_connection() as other:
        store_quotes([quote("bitcoin", "27100", seconds=10)], PriceSource.COINGECKO)

        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT id FROM prices_coin WHERE id = %s FOR NO KEY UPDATE", (coin_id,))
