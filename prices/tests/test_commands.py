import io

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from prices.models import Coin, PriceRollup, PriceTick
from prices.polling import LOCK_KEY
from prices.tests.pipeline import alert_batches  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_lock():
    cache.delete(LOCK_KEY)


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_poll_once_prints_every_stored_price(fake_coingecko, alert_batches):  # noqa: F811
    output = _run("poll_prices", "--once")

    assert "10 coins requested, 10 new ticks, 10 prices changed" in output
    assert f"{fake_coingecko.coins['bitcoin'].price.normalize():f}" in output
    assert PriceTick.objects.count() == 10


def test_poll_once_prints_rejections(fake_coingecko, alert_batches):  # noqa: F811
    fake_coingecko.inject("negative", coin="cosmos")

    output = _run("poll_prices", "--once")

    assert "rejected cosmos:" in output
    assert PriceTick.objects.count() == 9


def test_poll_once_says_when_the_feed_fails(fake_coingecko, settings):
    settings.COINGECKO_MAX_RETRIES = 0
    fake_coingecko.inject("500")

    output = _run("poll_prices", "--once")

    assert "Feed error:" in output and "HTTP 500" in output
    assert not PriceTick.objects.exists()


def test_poll_once_marks_simulated_prices(settings, alert_batches):  # noqa: F811
    settings.PRICE_SOURCE = "simulated"

    output = _run("poll_prices", "--once")

    assert output.count("SIMULATED") == 10


def test_backfill_stores_history_with_rollups_and_progress(fake_coingecko):
    output = _run("backfill_prices", "bitcoin", "ethereum", "--days", "30")

    ticks = PriceTick.objects.filter(coin__coingecko_id="bitcoin")
    assert "[1/2] bitcoin:" in output and "[2/2] ethereum:" in output
    assert ticks.count() > 30 * 24  # hourly for 30 days, plus the last day 5-minutely
    assert set(ticks.values_list("source", flat=True)) == {"backfill"}
    assert PriceRollup.objects.filter(coin__coingecko_id="bitcoin", resolution="1h").count() > 700
    assert [r.path for r in fake_coingecko.requests].count("/coins/bitcoin/market_chart") == 2


def test_backfilled_coins_are_not_added_to_the_polled_coins(fake_coingecko):
    _run("backfill_prices", list(fake_coingecko.coins)[-1], "--days", "1")

    assert Coin.objects.get().is_tracked is False


def test_backfill_of_an_unknown_coin_fails_clearly(fake_coingecko, settings):
    settings.COINGECKO_MAX_RETRIES = 0

    with pytest.raises(CommandError, match="no-such-coin"):
        _run("backfill_prices", "no-such-coin", "--days", "1")

    assert not PriceTick.objects.exists()


def test_backfill_rejects_a_zero_day_range():
    with pytest.raises(CommandError, match="at least 1"):
        _run("backfill_prices", "bitcoin", "--days", "0")


@pytest.mark.parametrize("page", ["coin", "pricetick", "feedstate"])
def test_the_admin_lists_pipeline_models(admin_client, page, fake_coingecko, alert_batches):  # noqa: F811
    _run("poll_prices", "--once")

    response = admin_client.get(
        f"/admin/prices/{page}/?q=bitcoin" if page != "feedstate" else "/admin/prices/feedstate/"
    )

    assert response.status_code == 200


def test_ticks_are_read_only_in_the_admin(admin_client, fake_coingecko, alert_batches):  # noqa: F811
    _run("poll_prices", "--once")
    tick = PriceTick.objects.first()

    assert admin_client.get("/admin/prices/pricetick/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/prices/pricetick/{tick.pk}/change/", {"price": "1"}).status_code
        == 403
    )
    assert PriceTick.objects.get(pk=tick.pk).price == tick.price


def test_backfill_waits_out_a_rate_limit_and_goes_on(fake_coingecko):
    from prices.backfill import backfill_coin
    from prices.coingecko import CoinGeckoClient

    fake_coingecko.inject("rate_limit", retry_after=30)
    waits: list[float] = []

    with CoinGeckoClient.from_settings() as client:
        report = backfill_coin(client, "bitcoin", 1, sleep=waits.append)

    assert waits == [30.0]
    assert report.stored == report.points > 0


def test_backfill_gives_up_on_a_wait_too_long_and_stores_nothing(fake_coingecko):
    from prices.backfill import backfill_coin
    from prices.coingecko import CoinGeckoClient
    from prices.quotes import FeedError

    fake_coingecko.inject("rate_limit", retry_after=3600)

    with CoinGeckoClient.from_settings() as client, pytest.raises(FeedError):
        backfill_coin(client, "bitcoin", 1, sleep=lambda s: None)

    assert not PriceTick.objects.exists()
