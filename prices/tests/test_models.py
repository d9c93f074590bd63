from decimal import Decimal

import pytest

from prices.models import Coin


@pytest.mark.django_db
def test_snapshot_formats_prices_as_exact_decimal_strings():
    coin = Coin.objects.create(
        coingecko_id="bitcoin", symbol="btc", name="Bitcoin", price=Decimal("27123.45000000")
    )

    assert coin.snapshot()["price"] == "27123.45"
