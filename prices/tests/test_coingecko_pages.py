"""fetch_markets over several pages when one of them cannot be read."""

from datetime import timedelta

import pytest

from prices.coingecko import CoinGeckoClient
from prices.quotes import FeedError
from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

COINS = generate_coins(600)
IDS = [coin.id for coin in COINS]  # three pages: 250, 250 and 100 ids


@pytest.fixture
def fake():
    with FakeCoinGecko(COINS) as server:
        yield server


@pytest.fixture
def client(fake):
    with CoinGeckoClient(fake.url, plan="public", api_key="", max_retries=0) as client:
        yield client


def test_a_failed_later_page_keeps_the_coins_of_the_others(client, fake):
    fake.inject("500", path="/coins/markets", after=1)

    result = client.fetch_markets(IDS, "usd")

    assert {q.coingecko_id for q in result.quotes} == set(IDS[:250] + IDS[500:])
    assert "1 of 3 /coins/markets pages failed, 250 coins not updated" in str(result.failure)
    assert "HTTP 500" in str(result.failure)
    assert len(fake.requests) == 3


def test_a_failed_first_page_does_not_stop_the_next(client, fake):
    fake.inject("500", path="/coins/markets")

    result = client.fetch_markets(IDS, "usd")

    assert {q.coingecko_id for q in result.quotes} == set(IDS[250:])
    assert result.failure is not None


def test_a_complete_fetch_has_no_failure(client):
    assert client.fetch_markets(IDS, "usd").failure is None


def test_every_page_failing_is_a_feed_error(client, fake):
    fake.inject("500", times=None, path="/coins/markets")

    with pytest.raises(FeedError, match="HTTP 500"):
        client.fetch_markets(IDS, "usd")


def test_a_long_retry_after_stops_at_that_page_and_is_passed_on(client, fake):
    fake.inject("429", path="/coins/markets", after=1, retry_after=120)

    result = client.fetch_markets(IDS, "usd")

    # Asked to wait: the third page is not requested meanwhile.
    assert len(fake.requests) == 2
    assert {q.coingecko_id for q in result.quotes} == set(IDS[:250])
    assert result.failure.retry_after == timedelta(seconds=120)
    assert "350 coins not updated" in str(result.failure)


def test_every_page_failing_keeps_a_later_pages_retry_after_and_names_the_pages(client, fake):
    fake.inject("500", path="/coins/markets")
    fake.inject("429", path="/coins/markets", retry_after=120)

    with pytest.raises(FeedError) as failed:
        client.fetch_markets(IDS, "usd")

    # Page 2's Retry-After binds the feed though page 1 failed first (with none).
    assert failed.value.retry_after == timedelta(seconds=120)
    assert "page 1 of 3: CoinGecko /coins/markets: HTTP 500" in str(failed.value)
    assert "page 2 of 3: CoinGecko /coins/markets: HTTP 429, asked to wait 120 s" in str(
        failed.value
    )
    assert "1 more not requested" in str(failed.value)
    assert len(fake.requests) == 2
