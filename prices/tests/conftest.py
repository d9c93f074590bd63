"""Fixtures shared by the prices tests."""

from collections.abc import Iterator

import pytest

from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins


@pytest.fixture
def fake_coingecko(settings) -> Iterator[FakeCoinGecko]:
    """A running fake CoinGecko with 250 coins, which the settings point at.

    The public plan (no key) is configured; tests that need a key set
    `fake_coingecko.api_key` and the COINGECKO_API_* settings themselves.
    """
    with FakeCoinGecko(generate_coins(250)) as fake:
        settings.COINGECKO_BASE_URL = fake.url
        settings.COINGECKO_API_PLAN = "public"
        settings.COINGECKO_API_KEY = ""
        yield fake
