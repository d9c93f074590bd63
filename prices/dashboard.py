"""What the dashboard shows: one card per coin, the user's watchlist first."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.safestring import SafeString

from prices.history import price_history
from prices.models import Coin, FeedState
from prices.sparklines import sparkline_svg
from prices.watchlists import watched_coins


@dataclass(frozen=True)
class CoinCard:
    coin: Coin
    sparkline: SafeString
    watched: bool


@dataclass(frozen=True)
class FeedBanner:
    stale: bool
    simulated: bool
    seconds_since_success: float | None


def coin_cards(user) -> list[CoinCard]:
    """Cards for the user's watched coins, then every other tracked coin."""
    watched = watched_coins(user)
    watched_ids = {coin.pk for coin in watched}
    tracked = [coin for coin in Coin.objects.filter(is_tracked=True) if coin.pk not in watched_ids]
    return [CoinCard(coin, day_sparkline(coin), True) for coin in watched] + [
        CoinCard(coin, day_sparkline(coin), False) for coin in tracked
    ]


def day_sparkline(coin: Coin) -> SafeString:
    return sparkline_svg(price_history(coin, "24h"))


def feed_banner(coins: list[Coin]) -> FeedBanner:
    state = FeedState.observed()
    simulated = settings.PRICE_SOURCE == "simulated" or any(coin.is_simulated for coin in coins)
    return FeedBanner(state.is_stale(), simulated, state.seconds_since_success())
