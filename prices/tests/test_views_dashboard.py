from datetime import timedelta

import pytest
from django.utils import timezone

from prices.models import FeedState, PriceSource, WatchlistEntry
from prices.tests.coins import catalogue_coin, priced_coin

pytestmark = pytest.mark.django_db


def cards_order(response) -> list[str]:
    return [card.coin.coingecko_id for card in response.context["cards"]]


def test_it_shows_a_card_per_tracked_coin_to_anonymous_visitors(client):
    priced_coin("bitcoin", ("27000", "27500.5"), change="1.25")
    priced_coin("ethereum", ("1800", "1750"), change="-2.5", market_cap_rank=2)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-coin="bitcoin" data-field="price">$27,500.50<' in html
    assert 'class="change up" data-coin="bitcoin" data-field="change_24h_pct">+1.25%<' in html
    assert 'class="change down" data-coin="ethereum" data-field="change_24h_pct">-2.50%<' in html
    assert 'id="connection-status"' in html
    assert 'id="alert-popups" class="alert-popups" aria-live="polite"' in html


def test_it_skips_coins_that_are_not_tracked(client):
    priced_coin("bitcoin")
    catalogue_coin("dogecoin", "doge", "Dogecoin")

    assert cards_order(client.get("/")) == ["bitcoin"]


def test_it_draws_a_sparkline_of_the_last_day(client):
    priced_coin("bitcoin", ("27000", "27100", "27300"))

    html = client.get("/").content.decode()

    assert 'class="sparkline sparkline-up"' in html
    assert "<polyline" in html


def test_it_says_how_long_ago_the_price_was_updated(client):
    coin = priced_coin("bitcoin")

    html = client.get("/").content.decode()

    assert f'data-updated-at="{coin.price_updated_at.isoformat()}"' in html
    assert "updated 0s ago" in html or "updated 1s ago" in html


def test_it_puts_the_watchlist_first_for_its_owner(client, owner):
    priced_coin("bitcoin", market_cap_rank=1)
    ethereum = priced_coin("ethereum", market_cap_rank=2)
    WatchlistEntry.objects.create(user=owner, coin=ethereum)
    client.force_login(owner)

    response = client.get("/")

    assert cards_order(response) == ["ethereum", "bitcoin"]
    assert [card.watched for card in response.context["cards"]] == [True, False]


def test_it_does_not_show_the_owners_watchlist_to_a_stranger(client, owner, stranger):
    priced_coin("bitcoin", market_cap_rank=1)
    ethereum = priced_coin("ethereum", market_cap_rank=2)
    WatchlistEntry.objects.create(user=owner, coin=ethereum)
    client.force_login(stranger)

    response = client.get("/")

    assert cards_order(response) == ["bitcoin", "ethereum"]
    assert not any(card.watched for card in response.context["cards"])


def test_it_shows_a_watched_coin_that_is_not_tracked(client, owner):
    priced_coin("bitcoin")
    doge = catalogue_coin("dogecoin", "doge", "Dogecoin")
    WatchlistEntry.objects.create(user=owner, coin=doge)
    client.force_login(owner)

    response = client.get("/")

    assert cards_order(response) == ["dogecoin", "bitcoin"]
    assert "no price yet" in response.content.decode()


def test_it_warns_when_the_feed_never_polled(client):
    priced_coin("bitcoin")

    html = client.get("/").content.decode()

    assert 'id="feed-stale-banner"' in html
    assert "No price poll has run yet." in html


def test_it_warns_when_the_last_good_poll_is_too_old(client, settings):
    priced_coin("bitcoin")
    limit = settings.PRICE_POLL_SECONDS * settings.PRICE_STALE_AFTER_POLLS
    FeedState.objects.create(
        name=settings.PRICE_SOURCE, last_success_at=timezone.now() - timedelta(seconds=limit + 5)
    )

    html = client.get("/").content.decode()

    assert 'id="feed-stale-banner"' in html


def test_it_shows_no_stale_banner_after_a_recent_poll(client, settings):
    priced_coin("bitcoin")
    FeedState.objects.create(name=settings.PRICE_SOURCE, last_success_at=timezone.now())

    html = client.get("/").content.decode()

    assert 'id="feed-stale-banner"' not in html
    assert 'id="feed-simulated-banner"' not in html


def test_it_says_when_prices_are_simulated(client):
    priced_coin("bitcoin", source=PriceSource.SIMULATED)

    assert 'id="feed-simulated-banner"' in client.get("/").content.decode()


def test_it_lists_search_results_with_their_coingecko_id(client, owner):
    catalogue_coin("ethereum", "eth", "Ethereum", rank=2)
    catalogue_coin("ethereum-wormhole", "eth", "Ethereum (Wormhole)")
    client.force_login(owner)

    html = client.get("/", {"q": "eth"}).content.decode()

    assert "<code>ethereum</code>" in html
    assert "<code>ethereum-wormhole</code>" in html


def test_it_offers_no_watchlist_search_to_anonymous_visitors(client):
    priced_coin("bitcoin")

    html = client.get("/").content.decode()

    assert 'id="coin-search"' not in html
    assert "Log in" in html
