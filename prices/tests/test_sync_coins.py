"""manage.py sync_coins loads CoinGecko's catalogue without disturbing tracked coins."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from prices.catalogue import sync_catalogue
from prices.models import Coin
from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

pytestmark = pytest.mark.django_db


def sync_coins(*args):
    out, err = StringIO(), StringIO()
    call_command("sync_coins", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_adds_every_coin_of_the_catalogue(fake_coingecko):
    out, _ = sync_coins()

    assert Coin.objects.count() == 250
    assert Coin.objects.get(coingecko_id="avalanche-2").name == "Avalanche"
    assert "250 coins added, 0 updated, 0 unchanged" in out


def test_a_second_run_changes_nothing(fake_coingecko):
    sync_coins()

    out, _ = sync_coins()

    assert "0 coins added, 0 updated, 250 unchanged; 0 newly tracked" in out


def test_it_updates_renamed_coins_and_keeps_their_snapshot(fake_coingecko):
    sync_coins()
    Coin.objects.filter(coingecko_id="polygon-ecosystem-token").update(
        name="Polygon", symbol="matic", price=Decimal("0.9"), is_tracked=False
    )
    Coin.objects.filter(coingecko_id="coin-00100").update(is_tracked=True)

    out, _ = sync_coins()

    coin = Coin.objects.get(coingecko_id="polygon-ecosystem-token")
    assert (coin.name, coin.symbol, coin.price) == ("POL (ex-MATIC)", "pol", Decimal("0.9"))
    assert Coin.objects.get(coingecko_id="coin-00100").is_tracked
    assert "0 coins added, 1 updated, 249 unchanged; 1 newly tracked" in out


def test_it_tracks_the_tracked_coins(fake_coingecko, settings):
    settings.TRACKED_COINS = ["bitcoin", "cosmos"]

    sync_coins()

    assert set(Coin.objects.filter(is_tracked=True).values_list("coingecko_id", flat=True)) == {
        "bitcoin",
        "cosmos",
    }


def test_it_warns_about_tracked_coins_coingecko_does_not_know(fake_coingecko, settings):
    settings.TRACKED_COINS = ["bitcoin", "bitconnect"]

    _, err = sync_coins()

    assert "TRACKED_COINS not on CoinGecko (check the ids): bitconnect" in err


def test_it_shows_progress_through_a_large_catalogue(settings):
    with FakeCoinGecko(generate_coins(15_000)) as fake:
        settings.COINGECKO_BASE_URL = fake.url
        out, _ = sync_coins("--batch-size", "5000")

    assert Coin.objects.count() == 15_000
    assert [line.strip() for line in out.splitlines() if "saved" in line] == [
        "saved 5000/15000 (33%)",
        "saved 10000/15000 (66%)",
        "saved 15000/15000 (100%)",
    ]


def test_it_fails_clearly_and_writes_nothing_when_coingecko_fails(fake_coingecko, settings):
    settings.COINGECKO_MAX_RETRIES = 0
    fake_coingecko.inject("503")

    with pytest.raises(CommandError, match="Could not fetch the coin list from CoinGecko"):
        sync_coins()
    assert Coin.objects.count() == 0


def test_it_refuses_a_batch_size_below_one(fake_coingecko):
    with pytest.raises(CommandError, match="at least 1"):
        sync_coins("--batch-size", "0")


def test_a_catalogue_listing_a_coin_twice_keeps_the_first():
    result = sync_catalogue(
        [
            {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"},
            {"id": "bitcoin", "symbol": "xbt", "name": "Other"},
        ],
        tracked_ids=[],
    )

    assert result.added == 1 and Coin.objects.get().symbol == "btc"
