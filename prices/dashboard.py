"""What the dashboard shows: one card per coin, the user's watchlist first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.safestring import SafeString

from prices.history import price_history
from prices.live import SOURCE_NAMES, feed_problem
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
    """What the feed banners say; the details only when the feed is stale."""

    stale: bool
    simulated: bool
    state: FeedState
    source: str = ""
    problem: str = ""  # live.feed_problem: the error's kind, for anyone
    prices_from: datetime | None = None  # the newest price shown

    @property
    def unreachable(self) -> bool:
        return self.stale and self.state.consecutive_failures > 0

    @property
    def never_polled(self) -> bool:
        return self.state.last_attempt_at is None


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
    if not state.is_stale():
        return FeedBanner(False, simulated, state)
    times = [coin.price_updated_at for coin in coins if coin.price_updated_at]
    return FeedBanner(
        True,
        simulated,
        state,
        source=SOURCE_NAMES.get(state.name, state.name),
        problem=feed_problem(state.last_error),
        prices_from=max(times, default=None),
    )
